-- Sessions and refresh tokens. The database is their source of truth; Redis holds copies with TTLs.
-- Only the SHA-256 (hex) of a refresh token is ever stored.
CREATE TABLE IF NOT EXISTS sessions (
    id CHAR(36) NOT NULL PRIMARY KEY,
    user_id CHAR(36) NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_refreshed_at BIGINT NOT NULL,
    user_agent VARCHAR(512) NULL,
    source_ip VARCHAR(64) NULL,
    revoked_at BIGINT NULL,
    KEY ix_sessions_user (user_id)
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash CHAR(64) NOT NULL PRIMARY KEY,
    session_id CHAR(36) NOT NULL,
    user_id CHAR(36) NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    rotated_at BIGINT NULL,
    KEY ix_refresh_tokens_session (session_id)
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
