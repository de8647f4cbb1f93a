-- Filters as index ranges where a walk used to check rows one by one.
--
-- A search within a category reads the category's postings of each term, strongest first: each
-- term row carries its tool's category, which follows the term in a second index.
ALTER TABLE tool_terms ADD COLUMN category VARCHAR(64) NOT NULL DEFAULT '';
ALTER TABLE tool_terms ADD INDEX ix_tool_terms_category (term, category, weight, tool_id);

-- A tag page of one owner walks (tag, owner, sort key): each tag row carries its tool's owner.
ALTER TABLE tool_tags ADD COLUMN owner_id CHAR(36) NOT NULL DEFAULT '';
ALTER TABLE tool_tags ADD INDEX ix_tool_tags_owner_name (tag, owner_id, name);
ALTER TABLE tool_tags ADD INDEX ix_tool_tags_owner_created (tag, owner_id, created_at, tool_id);
ALTER TABLE tool_tags ADD INDEX ix_tool_tags_owner_updated (tag, owner_id, updated_at, tool_id)
