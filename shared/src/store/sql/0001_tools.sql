-- Users and tools. Plain column types so Aurora MySQL and MariaDB answer the same JSON through the
-- Data API: ids CHAR(36), times BIGINT epoch milliseconds, JSON documents LONGTEXT.
-- Binary collation: tool names are unique case-sensitively and sort by code point.
CREATE TABLE IF NOT EXISTS users (
    id CHAR(36) NOT NULL PRIMARY KEY,
    email VARCHAR(320) NOT NULL,
    email_normalized VARCHAR(320) NOT NULL,
    display_name VARCHAR(200) NULL,
    password_hash VARCHAR(255) NOT NULL,
    role VARCHAR(16) NOT NULL DEFAULT 'user',
    created_at BIGINT NOT NULL,
    UNIQUE KEY uq_users_email (email_normalized)
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS tools (
    id CHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(128) NOT NULL,
    title VARCHAR(200) NULL,
    description TEXT NOT NULL,
    category VARCHAR(64) NOT NULL,
    tags LONGTEXT NOT NULL,
    version VARCHAR(64) NOT NULL,
    input_schema LONGTEXT NOT NULL,
    output_schema LONGTEXT NULL,
    annotations LONGTEXT NULL,
    status VARCHAR(16) NOT NULL,
    owner_id CHAR(36) NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE KEY uq_tools_name (name),
    KEY ix_tools_category (category, name),
    KEY ix_tools_owner (owner_id, name),
    KEY ix_tools_status (status, name),
    KEY ix_tools_created (created_at, id),
    KEY ix_tools_updated (updated_at, id)
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
