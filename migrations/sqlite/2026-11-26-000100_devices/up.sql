-- Service-desk kiosks (card terminals): each belongs to one store and logs in with a
-- one-time pairing code, then rotates refresh tokens like any other principal.
CREATE TABLE devices (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES stores(id),
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'revoked')),
    -- SHA-256 of the pairing code; cleared once the code is used.
    pairing_code_hash TEXT UNIQUE,
    pairing_expires_at TIMESTAMP,
    paired_at TIMESTAMP,
    revoked_at TIMESTAMP,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX devices_store ON devices (store_id);
