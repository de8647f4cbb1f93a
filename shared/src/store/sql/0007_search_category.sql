-- A search within a category reads the category's postings of each term, strongest first, instead
-- of the term's postings checked tool by tool: the category is copied into each term row (written
-- with it, rewritten with it when a tool changes) and leads the term in a second index. Filled for
-- the term rows of earlier versions by the migration's data step (store::migrations).
ALTER TABLE tool_terms ADD COLUMN category VARCHAR(64) NOT NULL DEFAULT '';
ALTER TABLE tool_terms ADD INDEX ix_tool_terms_category (term, category, weight, tool_id)
