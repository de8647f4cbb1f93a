//! Lists of changes (`updatedSince`, no search): a page of tools merged with the tools deleted
//! since, in one order and one cursor, so following `nextCursor` yields every change once.

use crate::domain::{list_order, Cursor, DeletedTool, ListItem, ListQuery};

use super::ListPage;

/// Whether `query`'s pages show deleted tools: those asking for changes since a time, unless
/// they search (relevance ranks words, which a deleted tool no longer has).
pub(super) fn shows_deletions(query: &ListQuery) -> bool {
    query.updated_since.is_some() && query.q.is_none()
}

/// Merges `tools` (a page of at most `limit` tools; `next` set when more follow) with `deleted`
/// (the deleted tools after the same cursor, in the same order, at most `limit + 1`) into one
/// page of at most `limit` items. Deleted tools past the page's last tool wait when more tools
/// follow it: tools not read yet may come first.
pub(super) fn merge_deletions(
    query: &ListQuery,
    tools: ListPage,
    deleted: Vec<DeletedTool>,
    limit: u32,
) -> ListPage {
    let sort = query.sort;
    let more_tools = tools.next.is_some();
    let mut tools = tools.items.into_iter().peekable();
    let mut deleted = deleted.into_iter().map(ListItem::Deleted).peekable();
    let mut items = Vec::new();
    while items.len() < limit as usize {
        let take_tool = match (tools.peek(), deleted.peek()) {
            (Some(tool), Some(gone)) => list_order(sort, tool, gone).is_le(),
            (Some(_), None) => true,
            (None, Some(_)) if !more_tools => false,
            _ => break,
        };
        let next = if take_tool {
            tools.next()
        } else {
            deleted.next()
        };
        items.extend(next);
    }
    let more = more_tools || tools.peek().is_some() || deleted.peek().is_some();
    let next = match items.last() {
        Some(last) if more => last.key(sort).map(|key| Cursor {
            key,
            id: last.id(),
            weights: None,
            depth: None,
        }),
        _ => None,
    };
    ListPage { items, next }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DeletedStatus, Sort, SortKey, Timestamp, Tool, ToolChanges};
    use serde_json::json;
    use uuid::Uuid;

    fn tool(name: &str, updated: i64) -> ListItem {
        let body = json!({"name": name, "description": "d", "inputSchema": {"type": "object"}});
        let mut tool: Tool = ToolChanges::for_create(&body).unwrap().into_new_tool(
            Uuid::now_v7(),
            Uuid::now_v7(),
            Timestamp::from_millis(updated),
        );
        tool.updated_at = Timestamp::from_millis(updated);
        ListItem::Tool(Box::new(tool))
    }

    fn gone(name: &str, updated: i64) -> DeletedTool {
        DeletedTool {
            id: Uuid::now_v7(),
            name: name.into(),
            revision: 2,
            updated_at: Timestamp::from_millis(updated),
            status: DeletedStatus::Deleted,
            created_at: Timestamp::from_millis(0),
        }
    }

    fn query(sort: Sort) -> ListQuery {
        ListQuery {
            sort,
            updated_since: Some(0),
            ..ListQuery::default()
        }
    }

    fn names(page: &ListPage) -> Vec<String> {
        page.items
            .iter()
            .map(|item| match item {
                ListItem::Tool(tool) => tool.name.clone(),
                ListItem::Deleted(gone) => format!("-{}", gone.name),
            })
            .collect()
    }

    #[test]
    fn deletions_take_their_place_in_the_order_and_the_cursor() {
        let tools = ListPage {
            items: vec![tool("a", 10), tool("c", 30)],
            next: None,
        };
        let deleted = vec![gone("b", 20), gone("d", 40)];
        let page = merge_deletions(&query(Sort::UpdatedAsc), tools, deleted, 3);
        assert_eq!(names(&page), ["a", "-b", "c"]);
        let next = page.next.expect("the last deletion follows");
        assert_eq!((next.key, next.id), (SortKey::Time(30), page.items[2].id()));
    }

    #[test]
    fn deletions_after_the_last_tool_wait_when_more_tools_follow() {
        let tools = ListPage {
            items: vec![tool("a", 10)],
            next: Some(Cursor {
                key: SortKey::Time(10),
                id: Uuid::nil(),
                weights: None,
                depth: None,
            }),
        };
        let page = merge_deletions(&query(Sort::UpdatedAsc), tools, vec![gone("z", 50)], 5);
        assert_eq!(names(&page), ["a"]);
        assert!(page.next.is_some());
    }

    #[test]
    fn a_deleted_tool_sharing_a_live_ones_name_is_ordered_by_id() {
        let earlier = gone("same", 5);
        let live = tool("same", 10);
        let tools = ListPage {
            items: vec![live.clone()],
            next: None,
        };
        let page = merge_deletions(&query(Sort::NameAsc), tools, vec![earlier.clone()], 5);
        // The deleted tool's id is older (UUIDv7): it comes first.
        assert_eq!(page.items[0].id(), earlier.id);
        assert_eq!(page.items[1].id(), live.id());
        assert!(page.next.is_none());
    }
}
