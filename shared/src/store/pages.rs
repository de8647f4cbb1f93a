//! The one statement behind a list page, for every shape of query: which index it walks (a
//! filter's, a tag's, or the search terms'), the keyset condition of its cursor, its size budget
//! and its time limit.
//!
//! Every shape reads a bounded index range: a page walks an index in page order and stops after
//! `limit + 1` rows that pass its filters; a search ranks at most the candidates its terms
//! contribute (`SEARCH_CANDIDATES` per word, strongest first). What the optimizer cannot bound
//! (a rare combination of filters) is stopped by the database after `LIST_TIME_LIMIT_MS`
//! (`MAX_EXECUTION_TIME`).

use aws_sdk_rdsdata::types::SqlParameter;

use super::{param, Value};
use crate::domain::{search, Cursor, ListQuery, Sort, SortKey};

/// What one row weighs in a Data API result, estimated in SQL from the columns of `t` (bytes,
/// as `LENGTH` counts them) plus a fixed allowance for ids, numbers and the record's framing.
fn row_bytes(t: &str) -> String {
    format!(
        "(LENGTH({t}.name) + COALESCE(LENGTH({t}.title), 0) + LENGTH({t}.description) \
         + LENGTH({t}.category) + LENGTH({t}.tags) + LENGTH({t}.version) \
         + LENGTH({t}.input_schema) + COALESCE(LENGTH({t}.output_schema), 0) \
         + COALESCE(LENGTH({t}.annotations), 0) + COALESCE(LENGTH({t}.icons), 0) \
         + COALESCE(LENGTH({t}.execution), 0) + COALESCE(LENGTH({t}.meta), 0) + 512)"
    )
}

/// A term of a search, as the page statement ranks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SearchTerm {
    /// The term as indexed.
    pub text: String,
    /// The query word it counts for; `-1` for the whole-name term.
    pub position: i64,
    /// Its weight in the score (see `domain::search::word_weight`).
    pub weight: i64,
    /// How many of its strongest tools it contributes as candidates.
    pub candidates: u32,
}

/// One list page to fetch.
pub(super) struct PageRequest<'a> {
    pub query: &'a ListQuery,
    pub after: Option<&'a Cursor>,
    pub limit: u32,
    /// The estimated size past which the page stops (after its first tool).
    pub budget: u64,
    /// `MAX_EXECUTION_TIME`, in milliseconds.
    pub time_limit_ms: u64,
    /// The search's terms, when `q` is given (never empty then).
    pub terms: &'a [SearchTerm],
    /// Whether the search walks the owner's tools and looks each term up, rather than each
    /// term's postings checking their owner.
    pub owner_first: bool,
}

/// Named parameters, bound as the SQL is written.
#[derive(Default)]
struct Params(Vec<SqlParameter>);

impl Params {
    /// Binds `value` as `:name` and returns the placeholder.
    fn bind(&mut self, name: &str, value: impl Into<Value>) -> String {
        self.0.push(param(name, value));
        format!(":{name}")
    }
}

/// The statement of one page and its parameters. It returns the page's tools (every column of
/// `tools`) in page order, with `candidates` (how many rows were ranked: `limit + 1` when more
/// follow) and the search standing `exact`, `matched`, `score` (zeros without a search).
pub(super) fn page_statement(columns: &str, page: &PageRequest<'_>) -> (String, Vec<SqlParameter>) {
    let mut params = Params::default();
    let ranked = if page.terms.is_empty() {
        listed(page, &mut params)
    } else {
        searched(page, &mut params)
    };
    let dir = direction(page.query.sort);
    let order = match page.query.sort {
        Sort::NameAsc | Sort::NameDesc => format!("name {dir}"),
        Sort::CreatedAsc | Sort::CreatedDesc => format!("created_at {dir}, id {dir}"),
        Sort::UpdatedAsc | Sort::UpdatedDesc => format!("updated_at {dir}, id {dir}"),
        Sort::Relevance => {
            "exact DESC, matched DESC, score DESC, tie_category DESC, id DESC".to_owned()
        }
    };
    let limit = params.bind("limit", i64::from(page.limit));
    let budget = params.bind("budget", i64::try_from(page.budget).unwrap_or(i64::MAX));
    let sql = format!(
        "SELECT /*+ MAX_EXECUTION_TIME({time}) */ {columns}, page.candidates, page.exact, \
           page.matched, page.score FROM tools JOIN (\
           SELECT id, exact, matched, score, tie_category, ROW_NUMBER() OVER (ORDER BY {order}) AS n, \
             SUM(bytes) OVER (ORDER BY {order} ROWS UNBOUNDED PRECEDING) AS running, \
             COUNT(*) OVER () AS candidates \
           FROM ({ranked}) AS ranked\
         ) AS page USING (id) \
         WHERE page.n <= {limit} AND (page.n = 1 OR page.running <= {budget}) \
         ORDER BY page.n",
        time = page.time_limit_ms,
    );
    (sql, params.0)
}

fn direction(sort: Sort) -> &'static str {
    if sort.descending() {
        "DESC"
    } else {
        "ASC"
    }
}

/// The conditions of the query's filters other than the tag and the search, on `tools t`, but
/// owner and `updatedSince` on `walked`, the table walked (`t` or `tool_tags tg`, which carries
/// copies of both), so that its index ranges over them.
fn tool_filters(query: &ListQuery, walked: &str, params: &mut Params) -> Vec<String> {
    let mut filters = Vec::new();
    if let Some(category) = &query.category {
        filters.push(format!(
            "t.category = {}",
            params.bind("category", category.as_str())
        ));
    }
    if let Some(status) = query.status {
        filters.push(format!(
            "t.status = {}",
            params.bind("status", status.as_str())
        ));
    }
    if let Some(owner) = query.owner_id {
        filters.push(format!(
            "{walked}.owner_id = {}",
            params.bind("owner", owner)
        ));
    }
    if let Some(since) = query.updated_since {
        let since = params.bind("since", since);
        filters.push(format!("{walked}.updated_at >= {since}"));
    }
    filters
}

/// The rows a page walks: the table alias holding the sort columns, the id column, and whether
/// a name is unique there (a tool's is among tools; a deleted tool's may be a live one's too).
#[derive(Clone, Copy)]
struct Walk<'a> {
    table: &'a str,
    id: &'a str,
    unique_names: bool,
}

impl Walk<'_> {
    /// The column `sort` orders by (the score columns of `s` for relevance).
    fn key(&self, sort: Sort) -> String {
        let column = match sort {
            Sort::NameAsc | Sort::NameDesc => "name",
            Sort::CreatedAsc | Sort::CreatedDesc => "created_at",
            Sort::UpdatedAsc | Sort::UpdatedDesc => "updated_at",
            Sort::Relevance => {
                return format!("s.exact, s.matched, s.score, {}.category", self.table)
            }
        };
        format!("{}.{column}", self.table)
    }

    /// The order of the walk.
    fn order(&self, sort: Sort) -> String {
        let dir = direction(sort);
        let id = self.id;
        match sort {
            // Unique names order alone, which lets the name's unique index give the order.
            Sort::NameAsc | Sort::NameDesc if self.unique_names => {
                format!("{} {dir}", self.key(sort))
            }
            Sort::Relevance => format!(
                "s.exact DESC, s.matched DESC, s.score DESC, {}.category DESC, {id} DESC",
                self.table
            ),
            _ => format!("{} {dir}, {id} {dir}", self.key(sort)),
        }
    }

    /// The keyset condition "after the cursor": by key, then id. A live tool's name is unique,
    /// but a deleted tool's may be a live one's too, so names break ties by id like times and
    /// scores do (written as a range of the name, then the tie).
    fn after(&self, sort: Sort, after: Option<&Cursor>, params: &mut Params) -> Option<String> {
        let cursor = after?;
        let cmp = if sort.descending() { "<" } else { ">" };
        let (key, id) = (self.key(sort), self.id);
        Some(match &cursor.key {
            SortKey::Name(name) => {
                let at = params.bind("after", name.as_str());
                let after_id = params.bind("afterId", cursor.id);
                format!("{key} {cmp}= {at} AND ({key} {cmp} {at} OR {id} {cmp} {after_id})")
            }
            SortKey::Time(millis) => {
                let at = params.bind("after", *millis);
                let after_id = params.bind("afterId", cursor.id);
                format!("({key} {cmp} {at} OR ({key} = {at} AND {id} {cmp} {after_id}))")
            }
            SortKey::Rank([exact, matched, score], category) => format!(
                "({key}, {id}) < ({}, {}, {}, {}, {})",
                params.bind("afterExact", *exact),
                params.bind("afterMatched", *matched),
                params.bind("afterScore", *score),
                params.bind("afterCategory", category.as_str()),
                params.bind("afterId", cursor.id),
            ),
        })
    }
}

/// The candidates of a page without a search: `tools` walked along the index of a filter and the
/// order, or `tool_tags` along (tag, sort key) when a tag is given.
fn listed(page: &PageRequest<'_>, params: &mut Params) -> String {
    let query = page.query;
    let walked = if query.tag.is_some() { "tg" } else { "t" };
    let mut conditions = tool_filters(query, walked, params);
    let (from, walk) = match &query.tag {
        Some(tag) => {
            conditions.push(format!("tg.tag = {}", params.bind("tag", tag.as_str())));
            let walk = Walk {
                table: "tg",
                id: "tg.tool_id",
                unique_names: true,
            };
            // The tag's index in page order, each row's tool checked against the other
            // filters: a page stops after `limit + 1` matches (the optimizer, blind to the
            // limit, would rather read all of a filter's tools and sort them). An owner narrows
            // the range to (tag, owner); the optimizer, whose statistics treat every owner
            // alike, may walk the whole tag checking each row's owner, so the index is named.
            let index = match (query.owner_id, query.sort) {
                (None, _) => "",
                (Some(_), Sort::NameAsc | Sort::NameDesc) => {
                    " FORCE INDEX (ix_tool_tags_owner_name)"
                }
                (Some(_), Sort::CreatedAsc | Sort::CreatedDesc) => {
                    " FORCE INDEX (ix_tool_tags_owner_created)"
                }
                // (Relevance needs `q`, which is never a listed page.)
                (Some(_), Sort::UpdatedAsc | Sort::UpdatedDesc | Sort::Relevance) => {
                    " FORCE INDEX (ix_tool_tags_owner_updated)"
                }
            };
            (
                format!("tool_tags tg{index} STRAIGHT_JOIN tools t ON t.id = tg.tool_id"),
                walk,
            )
        }
        None => (
            "tools t".to_owned(),
            Walk {
                table: "t",
                id: "t.id",
                unique_names: true,
            },
        ),
    };
    let src = walk.table;
    conditions.extend(walk.after(query.sort, page.after, params));
    let candidates = params.bind("candidates", i64::from(page.limit) + 1);
    format!(
        "SELECT t.id AS id, {src}.name AS name, {src}.created_at AS created_at, \
           {src}.updated_at AS updated_at, 0 AS exact, 0 AS matched, 0 AS score, \
           '' AS tie_category, {bytes} AS bytes \
         FROM {from} WHERE {conditions} ORDER BY {order} LIMIT {candidates}",
        bytes = row_bytes("t"),
        conditions = where_all(&conditions),
        order = walk.order(query.sort),
    )
}

/// The candidates of a search page: each term's strongest tools (that pass the filters), scored
/// against every term, then ordered.
fn searched(page: &PageRequest<'_>, params: &mut Params) -> String {
    let query = page.query;
    // The category is in the term rows: a term's postings within it are one index range per
    // weight a term row can have, walked strongest first.
    let category = query
        .category
        .as_ref()
        .map(|category| params.bind("category", category.as_str()));
    let weights = search::term_weights()
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let other_filters = ListQuery {
        category: None,
        ..query.clone()
    };
    let filters = tool_filters(&other_filters, "t", params);
    let tag = query
        .tag
        .as_ref()
        .map(|tag| params.bind("tag", tag.as_str()));
    let mut term_cases = String::new();
    let mut weight_cases = String::new();
    let mut term_list = Vec::new();
    let mut contributions = Vec::new();
    for (i, term) in page.terms.iter().enumerate() {
        let placeholder = params.bind(&format!("term{i}"), term.text.as_str());
        term_cases.push_str(&format!(" WHEN {placeholder} THEN {}", term.position));
        weight_cases.push_str(&format!(" WHEN {placeholder} THEN {}", term.weight));
        term_list.push(placeholder.clone());
        let mut conditions = vec![format!("tt.term = {placeholder}")];
        if let Some(category) = &category {
            conditions.push(format!(
                "tt.weight IN ({weights}) AND tt.category = {category}"
            ));
        }
        conditions.extend(filters.iter().cloned());
        let mut joins = if page.owner_first {
            // The owner's few tools, each term looked up by primary key, then sorted.
            "tools t STRAIGHT_JOIN tool_terms tt ON tt.tool_id = t.id".to_owned()
        } else if filters.is_empty() {
            "tool_terms tt".to_owned()
        } else {
            // The term's tools strongest first, each checked against the filters, until enough.
            "tool_terms tt STRAIGHT_JOIN tools t ON t.id = tt.tool_id".to_owned()
        };
        // A tag may be the narrower way in: the optimizer weighs the tag's tools against the
        // term's.
        if let Some(tag) = &tag {
            joins.push_str(&format!(
                " JOIN tool_tags tg ON tg.tool_id = tt.tool_id AND tg.tag = {tag}"
            ));
        }
        contributions.push(format!(
            "(SELECT tt.tool_id FROM {joins} WHERE {} \
              ORDER BY tt.weight DESC, tt.category DESC, tt.tool_id DESC LIMIT {})",
            conditions.join(" AND "),
            term.candidates
        ));
    }
    // The candidates, each candidate's rows of the search's terms (STRAIGHT_JOIN: by the
    // candidate's primary-key range, never by reading every posting of a common term), the best
    // term of each word position, then the tool's standing.
    let scored = format!(
        "SELECT p.tool_id, MAX(p.pos < 0) AS exact, CAST(SUM(p.pos >= 0) AS SIGNED) AS matched, \
           CAST(SUM(p.s) AS SIGNED) AS score \
         FROM (SELECT tt.tool_id, CASE tt.term{term_cases} END AS pos, \
                 MAX(tt.weight * CASE tt.term{weight_cases} END) AS s \
               FROM ({candidates}) AS c STRAIGHT_JOIN tool_terms tt ON tt.tool_id = c.tool_id \
               WHERE tt.term IN ({terms}) GROUP BY tt.tool_id, pos) AS p \
         GROUP BY p.tool_id",
        candidates = contributions.join(" UNION "),
        terms = term_list.join(", "),
    );
    let walk = Walk {
        table: "t",
        id: "t.id",
        unique_names: true,
    };
    let conditions: Vec<String> = walk
        .after(query.sort, page.after, params)
        .into_iter()
        .collect();
    let candidates = params.bind("candidates", i64::from(page.limit) + 1);
    format!(
        "SELECT t.id AS id, t.name AS name, t.created_at AS created_at, \
           t.updated_at AS updated_at, s.exact AS exact, s.matched AS matched, \
           s.score AS score, t.category AS tie_category, {bytes} AS bytes \
         FROM ({scored}) AS s JOIN tools t ON t.id = s.tool_id \
         WHERE {conditions} ORDER BY {order} LIMIT {candidates}",
        bytes = row_bytes("t"),
        conditions = where_all(&conditions),
        order = walk.order(query.sort),
    )
}

/// The statement of the deleted tools a page of changes (`updatedSince`, no search) shows beside
/// its tools: the tombstones deleted since then that pass the page's filters (by the values the
/// tool had), after the cursor, in the page's order, at most `limit + 1`. It reads the
/// tombstones of deletions since `updatedSince` (an index range of `deleted_at`), never more
/// than the retention holds.
pub(super) fn deletions_statement(page: &PageRequest<'_>) -> (String, Vec<SqlParameter>) {
    let mut params = Params::default();
    let query = page.query;
    let since = params.bind("since", query.updated_since.unwrap_or_default());
    let mut conditions = Vec::new();
    if let Some(category) = &query.category {
        conditions.push(format!(
            "d.category = {}",
            params.bind("category", category.as_str())
        ));
    }
    if let Some(status) = query.status {
        conditions.push(format!(
            "d.status = {}",
            params.bind("status", status.as_str())
        ));
    }
    if let Some(owner) = query.owner_id {
        conditions.push(format!("d.owner_id = {}", params.bind("owner", owner)));
    }
    if let Some(tag) = &query.tag {
        conditions.push(format!(
            "JSON_CONTAINS(d.tags, JSON_QUOTE({}))",
            params.bind("tag", tag.as_str())
        ));
    }
    let walk = Walk {
        table: "d",
        id: "d.id",
        unique_names: false,
    };
    conditions.extend(walk.after(query.sort, page.after, &mut params));
    let limit = params.bind("limit", i64::from(page.limit) + 1);
    let sql = format!(
        "SELECT /*+ MAX_EXECUTION_TIME({time}) */ d.id, d.name, d.revision, \
           d.created_at AS createdAt, d.updated_at AS updatedAt \
         FROM (SELECT id, name, revision, owner_id, category, status, tags, created_at, \
                 deleted_at AS updated_at FROM tool_tombstones WHERE deleted_at >= {since}) AS d \
         WHERE {conditions} ORDER BY {order} LIMIT {limit}",
        time = page.time_limit_ms,
        conditions = where_all(&conditions),
        order = walk.order(query.sort),
    );
    (sql, params.0)
}

fn where_all(conditions: &[String]) -> String {
    if conditions.is_empty() {
        "1 = 1".to_owned()
    } else {
        conditions.join(" AND ")
    }
}
