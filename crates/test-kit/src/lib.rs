//! Protocol peers for tests (being written).
