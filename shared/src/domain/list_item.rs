//! What a list page holds: tools, and in a list of changes since a time (`updatedSince`) the
//! tools deleted since, so a mirror sees deletions in the same walk as changes.

use std::cmp::Ordering;

use serde::Serialize;
use uuid::Uuid;

use super::{Sort, SortKey, Timestamp, Tool};

/// A tool deleted within the tombstones' retention, as a list shows it:
/// `{"id", "name", "revision", "updatedAt", "status": "deleted"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedTool {
    /// The tool's id (never used again).
    pub id: Uuid,
    /// Its name when deleted (free again: a new tool with it has a new id).
    pub name: String,
    /// One more than its last revision, so a mirror keeping the newest revision of each id
    /// takes the deletion.
    pub revision: i64,
    /// When it was deleted.
    pub updated_at: Timestamp,
    /// Always `deleted`.
    pub status: DeletedStatus,
    /// When it was created (the `createdAt` orders place it by this).
    #[serde(skip)]
    pub created_at: Timestamp,
}

/// The status of a [`DeletedTool`]: serialized as `"deleted"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeletedStatus {
    /// The only value.
    #[default]
    Deleted,
}

/// One item of a list page.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ListItem {
    /// A tool as it is.
    Tool(Box<Tool>),
    /// A tool deleted since the list's `updatedSince`.
    Deleted(DeletedTool),
}

impl ListItem {
    /// The item's id.
    pub fn id(&self) -> Uuid {
        match self {
            Self::Tool(tool) => tool.id,
            Self::Deleted(deleted) => deleted.id,
        }
    }

    /// Its key in `sort` (`None` for relevance, which deleted tools never take part in).
    pub fn key(&self, sort: Sort) -> Option<SortKey> {
        match self {
            Self::Tool(tool) => sort.key_of(tool),
            Self::Deleted(deleted) => match sort {
                Sort::NameAsc | Sort::NameDesc => Some(SortKey::Name(deleted.name.clone())),
                Sort::CreatedAsc | Sort::CreatedDesc => {
                    Some(SortKey::Time(deleted.created_at.millis()))
                }
                Sort::UpdatedAsc | Sort::UpdatedDesc => {
                    Some(SortKey::Time(deleted.updated_at.millis()))
                }
                Sort::Relevance => None,
            },
        }
    }
}

/// The order of two items in `sort` (name or time, then id: a deleted tool may share its name
/// with a live one, or with other deleted ones).
pub fn list_order(sort: Sort, a: &ListItem, b: &ListItem) -> Ordering {
    let key = |item: &ListItem| match item.key(sort) {
        Some(SortKey::Name(name)) => (name.into_bytes(), 0, item.id()),
        Some(SortKey::Time(millis)) => (Vec::new(), millis, item.id()),
        _ => (Vec::new(), 0, item.id()),
    };
    let order = key(a).cmp(&key(b));
    if sort.descending() {
        order.reverse()
    } else {
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_deleted_tool_serializes_as_its_tombstone() {
        let id = Uuid::now_v7();
        let deleted = ListItem::Deleted(DeletedTool {
            id,
            name: "gone.tool".into(),
            revision: 4,
            updated_at: Timestamp::from_millis(1_000),
            status: DeletedStatus::Deleted,
            created_at: Timestamp::from_millis(10),
        });
        assert_eq!(
            serde_json::to_value(&deleted).unwrap(),
            json!({"id": id, "name": "gone.tool", "revision": 4,
                   "updatedAt": "1970-01-01T00:00:01.000Z", "status": "deleted"})
        );
    }
}
