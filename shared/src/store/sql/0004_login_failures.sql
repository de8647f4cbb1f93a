-- Failed logins, counted per subject (the SHA-256 of an account's normalized email or of a source
-- address, domain-separated; never the email or the address) in a fixed window. Redis counts the
-- same attempts in a sliding window; this table keeps the limit while Redis is down or after it
-- lost its data. Rows of unknown emails and of addresses age out and are pruned by the auth
-- function itself.
CREATE TABLE IF NOT EXISTS login_failures (
    subject CHAR(64) NOT NULL PRIMARY KEY,
    failures INT NOT NULL,
    window_started_at BIGINT NOT NULL,
    KEY ix_login_failures_window (window_started_at)
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
