//! The member club over HTTP: cards, top-up, checkout, points, coupons, gifts; money exact under concurrency.
