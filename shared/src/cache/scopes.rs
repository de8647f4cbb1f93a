//! Which list pages a write can change.
//!
//! Every cached page depends on one *scope*, whose generation it is stored under: the value of
//! its most selective equality filter (`owner:…`, then `tag:…`, `category:…`, `status:…`), or
//! `all` when it has none or searches (`q`). A write bumps `all` and the scope of every filter
//! value the tool had before or has after it. So a page is retired by every write that can
//! change it, and by no other:
//!
//! - A page filtered on `F = v` lists only tools whose `F` is `v`. A write changes what such a
//!   page shows only if the tool matched the page before or matches it after, so only if it had
//!   or has `F = v`: the write bumps `F:v`.
//! - A search page ranks by how many tools of the whole catalogue hold each word (rarer words
//!   weigh more) and expands its last word over every word of the catalogue, so any write can
//!   change it, whatever its filters: it is scoped `all`. So is an `updatedSince` page without
//!   an equality filter, since every write's tool matches it afterwards.

use std::collections::BTreeSet;

use crate::domain::{ListQuery, Tool};

/// The scope of pages with no equality filter, and of searches: every write bumps it.
pub const ALL: &str = "all";

/// The scope whose generation the pages of `query` are stored under.
pub fn of_page(query: &ListQuery) -> String {
    if query.q.is_some() {
        return ALL.to_owned();
    }
    if let Some(owner) = query.owner_id {
        return owner_scope(owner);
    }
    if let Some(tag) = &query.tag {
        return format!("tag:{tag}");
    }
    if let Some(category) = &query.category {
        return format!("category:{category}");
    }
    if let Some(status) = query.status {
        return format!("status:{}", status.as_str());
    }
    ALL.to_owned()
}

/// The scopes a write from `before` (nothing for a create) to `after` (nothing for a delete)
/// must bump, sorted and without repeats.
pub fn of_write(before: Option<&Tool>, after: Option<&Tool>) -> Vec<String> {
    let mut scopes = BTreeSet::from([ALL.to_owned()]);
    for tool in before.into_iter().chain(after) {
        scopes.insert(owner_scope(tool.owner_id));
        scopes.insert(format!("category:{}", tool.category));
        scopes.insert(format!("status:{}", tool.status.as_str()));
        scopes.extend(tool.tags.iter().map(|tag| format!("tag:{tag}")));
    }
    scopes.into_iter().collect()
}

fn owner_scope(owner: uuid::Uuid) -> String {
    format!("owner:{}", owner.hyphenated())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;
    use uuid::Uuid;

    use super::*;
    use crate::domain::{Timestamp, ToolChanges, ToolStatus};

    fn tool(owner: Uuid, category: &str, tags: &[&str], status: ToolStatus) -> Tool {
        let body = json!({
            "name": "scoped",
            "description": "A tool whose filters decide its scopes",
            "category": category,
            "tags": tags,
            "version": "1.0.0",
            "inputSchema": {"type": "object"},
        });
        let mut tool = ToolChanges::for_create(&body)
            .expect("valid tool")
            .into_new_tool(Uuid::now_v7(), owner, Timestamp::now());
        tool.status = status;
        tool
    }

    /// Whether `tool` passes every equality filter of `query` (the filters a scope can name).
    fn passes(query: &ListQuery, tool: &Tool) -> bool {
        query.owner_id.is_none_or(|o| o == tool.owner_id)
            && query.tag.as_ref().is_none_or(|t| tool.tags.contains(t))
            && query.category.as_ref().is_none_or(|c| *c == tool.category)
            && query.status.is_none_or(|s| s == tool.status)
    }

    fn any_tool() -> impl Strategy<Value = Tool> {
        let owners = [Uuid::from_u128(1), Uuid::from_u128(2)];
        (
            0..2usize,
            prop::sample::select(vec!["search", "finance"]),
            prop::sample::subsequence(vec!["a", "b", "c"], 0..=3),
            any::<bool>(),
        )
            .prop_map(move |(owner, category, tags, deprecated)| {
                let status = if deprecated {
                    ToolStatus::Deprecated
                } else {
                    ToolStatus::Active
                };
                tool(owners[owner], category, &tags, status)
            })
    }

    fn any_query() -> impl Strategy<Value = ListQuery> {
        (
            prop::option::of(prop::sample::select(vec![
                Uuid::from_u128(1),
                Uuid::from_u128(2),
            ])),
            prop::option::of(prop::sample::select(vec!["a", "b", "c"])),
            prop::option::of(prop::sample::select(vec!["search", "finance"])),
            prop::option::of(prop::sample::select(vec![
                ToolStatus::Active,
                ToolStatus::Deprecated,
            ])),
            any::<bool>(),
        )
            .prop_map(|(owner_id, tag, category, status, search)| ListQuery {
                owner_id,
                tag: tag.map(str::to_owned),
                category: category.map(str::to_owned),
                status,
                q: search.then(|| "word".to_owned()),
                ..ListQuery::default()
            })
    }

    proptest! {
        /// A write that the page's filters can see, before or after, always bumps the page's
        /// scope: the guarantee that a page is never retired too rarely.
        #[test]
        fn a_write_a_page_can_see_bumps_its_scope(
            query in any_query(),
            before in prop::option::of(any_tool()),
            after in prop::option::of(any_tool()),
        ) {
            let seen = before.iter().chain(after.iter()).any(|t| passes(&query, t));
            let bumped = of_write(before.as_ref(), after.as_ref()).contains(&of_page(&query));
            prop_assert!(!seen || bumped, "{:?} not bumped", of_page(&query));
        }
    }

    #[test]
    fn a_write_in_one_category_leaves_the_pages_of_another() {
        let owner = Uuid::now_v7();
        let before = tool(owner, "finance", &["money"], ToolStatus::Active);
        let mut after = before.clone();
        after.description = "Changed".into();
        let scopes = of_write(Some(&before), Some(&after));
        let search = ListQuery {
            category: Some("search".into()),
            ..ListQuery::default()
        };
        assert!(!scopes.contains(&of_page(&search)), "{scopes:?}");
        let finance = ListQuery {
            category: Some("finance".into()),
            ..ListQuery::default()
        };
        assert!(scopes.contains(&of_page(&finance)));
        assert!(scopes.contains(&of_page(&ListQuery::default())));
    }

    #[test]
    fn a_search_depends_on_the_whole_catalogue_whatever_its_filters() {
        let query = ListQuery {
            category: Some("search".into()),
            q: Some("vector".into()),
            ..ListQuery::default()
        };
        assert_eq!(of_page(&query), ALL);
    }
}
