-- MCP 2025-11-25 tool fields: icons, execution properties and `_meta`, each a JSON document (NULL
-- when not set). Each ADD COLUMN is its own statement: a rerun's "duplicate column" is skipped.
ALTER TABLE tools ADD COLUMN icons LONGTEXT NULL;
ALTER TABLE tools ADD COLUMN execution LONGTEXT NULL;
ALTER TABLE tools ADD COLUMN meta LONGTEXT NULL;
