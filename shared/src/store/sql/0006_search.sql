-- Search and filters by index. Written in the same transaction as the tool and its outbox row;
-- filled for the tools of earlier versions by `mcp-admin migrate` (store::migrations::backfill).
--
-- tool_tags: one row per tool and tag, with the tool's sort keys, so a tag filter walks
-- (tag, sort key) in page order and stops after the page, whatever the other filters.
CREATE TABLE IF NOT EXISTS tool_tags (
    tool_id CHAR(36) NOT NULL,
    tag VARCHAR(32) NOT NULL,
    name VARCHAR(128) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tool_id, tag),
    KEY ix_tool_tags_name (tag, name),
    KEY ix_tool_tags_created (tag, created_at, tool_id),
    KEY ix_tool_tags_updated (tag, updated_at, tool_id)
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- tool_terms: the search index. One row per tool and term (domain::search: the words of its
-- name, title, tags and description, and its whole name as `=name`), with the term's weight in
-- the tool. Clustered by tool (a write replaces its rows in one range); the secondary key walks a
-- term's tools strongest first.
CREATE TABLE IF NOT EXISTS tool_terms (
    tool_id CHAR(36) NOT NULL,
    term VARCHAR(130) NOT NULL,
    weight SMALLINT NOT NULL,
    PRIMARY KEY (tool_id, term),
    KEY ix_tool_terms_term (term, weight)
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- search_terms: every term ever indexed (whole names aside), so a prefix finds the terms it
-- begins in a few primary-key steps instead of reading every posting of a common term. Never
-- pruned: a term no tool holds any more expands to nothing.
CREATE TABLE IF NOT EXISTS search_terms (
    term VARCHAR(130) NOT NULL PRIMARY KEY
) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Each filter with each order: a filtered page walks one index in page order.
ALTER TABLE tools ADD INDEX ix_tools_category_created (category, created_at, id);
ALTER TABLE tools ADD INDEX ix_tools_category_updated (category, updated_at, id);
ALTER TABLE tools ADD INDEX ix_tools_owner_created (owner_id, created_at, id);
ALTER TABLE tools ADD INDEX ix_tools_owner_updated (owner_id, updated_at, id);
ALTER TABLE tools ADD INDEX ix_tools_status_created (status, created_at, id);
ALTER TABLE tools ADD INDEX ix_tools_status_updated (status, updated_at, id)
