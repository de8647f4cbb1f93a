-- One index of postings instead of two: every term row went into three B-trees, which made the
-- search index most of what a write (and a bulk import) costs.
--
-- (term, weight, category, tool_id) serves both searches: without a category, a term's postings
-- strongest first (ties by category, then tool); within one, the same walk over the weights a
-- term row can have (`weight IN (…)`, each a range of that category), still in page order.
ALTER TABLE tool_terms ADD INDEX ix_tool_terms_postings (term, weight, category, tool_id);
ALTER TABLE tool_terms DROP INDEX ix_tool_terms_category;
ALTER TABLE tool_terms DROP INDEX ix_tool_terms_term
