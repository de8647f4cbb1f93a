-- What a deleted tool leaves for its retention (the sweeper prunes older ones): its id, name and
-- last revision + 1, the filter values it had, and when it went. Written by the delete's own
-- transaction. A read of its id answers 410; lists asked for changes since a time include it.
CREATE TABLE IF NOT EXISTS tool_tombstones (
    id CHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(128) NOT NULL,
    revision BIGINT NOT NULL,
    owner_id CHAR(36) NOT NULL,
    category VARCHAR(64) NOT NULL,
    status VARCHAR(16) NOT NULL,
    tags LONGTEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT NOT NULL,
    KEY ix_tool_tombstones_deleted (deleted_at, id)
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
