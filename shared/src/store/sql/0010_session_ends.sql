-- Sessions that ended (expired or revoked) are deleted with their refresh tokens after a
-- retention; these indexes bound each pruning pass to the rows it deletes.
ALTER TABLE sessions ADD INDEX ix_sessions_expires (expires_at);
ALTER TABLE sessions ADD INDEX ix_sessions_revoked (revoked_at);
