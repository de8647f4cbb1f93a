-- The public halves of the access-token signing keys. The auth function publishes its key here
-- before it signs with it; verifiers read the newest two (the current key and the previous one),
-- so a rotated key's tokens verify until they expire. Private keys are never stored.
CREATE TABLE IF NOT EXISTS signing_keys (
    kid VARCHAR(32) NOT NULL PRIMARY KEY,
    public_key VARCHAR(64) NOT NULL,
    published_at BIGINT NOT NULL,
    KEY ix_signing_keys_published (published_at)
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
