-- Invalidations are data: every tool write records its cache consequence here, in the same
-- transaction as the row change. The writer applies it to Redis right after commit and marks it
-- applied; what Redis did not take stays pending until the sweeper (or a recovering instance)
-- replays it. Applied rows are pruned after a while.
CREATE TABLE IF NOT EXISTS cache_outbox (
    seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    write_id CHAR(36) NOT NULL,
    tool_id CHAR(36) NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    applied_at BIGINT NULL,
    UNIQUE KEY uq_cache_outbox_write (write_id),
    KEY ix_cache_outbox_pending (applied_at, seq)
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The id of the request that last wrote the row, so a write whose Data API answer was lost and
-- retried recognises its own change instead of taking it for a concurrent one.
ALTER TABLE tools ADD COLUMN write_id CHAR(36) NULL;
