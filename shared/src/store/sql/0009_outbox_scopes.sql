-- A write retires only the list pages it can change: its outbox row names their scopes (a JSON
-- array of strings), so a replay retires the same pages the writer did. NULL (rows of earlier
-- versions, imports) retires every page.
ALTER TABLE cache_outbox ADD COLUMN scopes TEXT NULL;
