-- Idempotency keys of tool writes: written in the write's own transaction (so a key is
-- recorded exactly when its write committed) with the tool it answered, so a repeat of the same
-- request within the retention answers it again. The sweeper prunes keys past the retention.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    caller_id CHAR(36) NOT NULL,
    idem_key VARCHAR(255) NOT NULL,
    fingerprint CHAR(64) NOT NULL,
    write_id CHAR(36) NOT NULL,
    answer MEDIUMTEXT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (caller_id, idem_key),
    KEY ix_idempotency_keys_created (created_at)
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
