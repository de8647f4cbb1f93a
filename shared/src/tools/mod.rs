//! The tool manager (the original design's "MCP Manager"): read-through caching of tools and list
//! pages, and writes that commit to the database first and then update the cache.

mod model;
mod query;

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

pub use model::{etag_for, is_slug, is_tool_name, FieldError, Tool, ToolChanges, ToolStatus};
pub use query::{Cursor, CursorCodec, ListQuery, Sort, SortKey, DEFAULT_LIMIT, MAX_LIMIT};

use crate::auth::Actor;
use crate::cache::{CacheService, CacheStatus, CachedTool, Lookup};
use crate::store::{StoreError, ToolStore};
use crate::time::Timestamp;

/// How often a write retries when a concurrent write changed the tool under it.
const WRITE_ATTEMPTS: usize = 5;

/// Errors of tool operations; `shared::http` maps them to problem documents.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// No such tool.
    #[error("no tool with this id")]
    NotFound,
    /// The caller may not change this tool.
    #[error("only the tool's owner or an admin may change it")]
    Forbidden,
    /// The name is taken.
    #[error("a tool named {0:?} already exists")]
    NameTaken(String),
    /// `If-Match` names another revision.
    #[error("the tool has changed since the given ETag")]
    PreconditionFailed,
    /// Concurrent writes kept changing the tool.
    #[error("the tool is being changed concurrently; retry")]
    Contention,
    /// Invalid fields in the body.
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    /// Invalid query parameters.
    #[error("invalid query")]
    BadQuery(Vec<FieldError>),
    /// The database is unreachable and the cache could not answer.
    #[error("the database is unavailable")]
    Unavailable,
    /// Anything else: a server-side fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ToolError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "database unavailable");
                Self::Unavailable
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

/// A tool ready to send: its revision (for the ETag) and its JSON.
pub type ToolBody = CachedTool;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Page<'a> {
    items: &'a [Tool],
    next_cursor: Option<String>,
}

/// Read-through cache in front of a [`ToolStore`].
pub struct ToolManager<S> {
    store: S,
    cache: CacheService,
    cursors: CursorCodec,
}

impl<S: ToolStore> ToolManager<S> {
    /// A manager over `store` and `cache`, signing list cursors with `cursor_secret`.
    pub fn new(store: S, cache: CacheService, cursor_secret: &[u8]) -> Self {
        Self {
            store,
            cache,
            cursors: CursorCodec::new(cursor_secret),
        }
    }

    /// The cache in use.
    pub fn cache(&self) -> &CacheService {
        &self.cache
    }

    /// The store in use.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// One tool: from Redis when cached, else from the database (then cached, guarded against
    /// overwriting a newer revision).
    pub async fn get(&self, id: Uuid) -> Result<(ToolBody, CacheStatus), ToolError> {
        let status = match self.cache.get_tool(id).await {
            Lookup::Hit(tool) => return Ok((tool, CacheStatus::Hit)),
            Lookup::Miss => CacheStatus::Miss,
            Lookup::Unavailable => CacheStatus::Bypass,
        };
        let tool = self.store.get(id).await?.ok_or(ToolError::NotFound)?;
        let body = to_json(&tool)?;
        if status == CacheStatus::Miss {
            self.cache.fill_tool(id, tool.revision, &body).await;
        }
        Ok((
            CachedTool {
                revision: tool.revision,
                body: Bytes::from(body),
            },
            status,
        ))
    }

    /// One page of a list, as response JSON.
    pub async fn list(&self, query: &ListQuery) -> Result<(Bytes, CacheStatus), ToolError> {
        // The generation is read before the database, so a page computed from data older than a
        // concurrent write is stored under a generation that write already retired.
        let generation = self.cache.list_generation().await;
        let mut status = CacheStatus::Bypass;
        if let Some(generation) = generation {
            match self.cache.get_list(generation, query).await {
                Lookup::Hit(body) => return Ok((body, CacheStatus::Hit)),
                Lookup::Miss => status = CacheStatus::Miss,
                Lookup::Unavailable => {}
            }
        }
        let after = self
            .cursors
            .decode(query)
            .map_err(|e| ToolError::BadQuery(vec![e]))?;
        let limit = query.limit as usize;
        let mut items = self
            .store
            .list(query, after.as_ref(), query.limit + 1)
            .await?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|last| {
                let cursor = Cursor {
                    key: query.sort.key_of(last),
                    id: last.id,
                };
                self.cursors.encode(query, cursor)
            })
        } else {
            None
        };
        let body = to_json(&Page {
            items: &items,
            next_cursor,
        })?;
        if let (CacheStatus::Miss, Some(generation)) = (status, generation) {
            self.cache.set_list(generation, query, &body).await;
        }
        Ok((Bytes::from(body), status))
    }

    /// Creates a tool owned by `actor`.
    pub async fn create(&self, actor: &Actor, body: &Value) -> Result<Tool, ToolError> {
        let changes = ToolChanges::for_create(body).map_err(ToolError::Invalid)?;
        let tool = changes.into_new_tool(Uuid::now_v7(), actor.user_id, Timestamp::now());
        self.store.insert(&tool).await.map_err(|e| match e {
            StoreError::Duplicate => ToolError::NameTaken(tool.name.clone()),
            other => other.into(),
        })?;
        self.after_write(&tool).await;
        Ok(tool)
    }

    /// Applies a partial update to the tool `id` for `actor`, optionally only if its ETag is
    /// still `if_match`.
    pub async fn update(
        &self,
        actor: &Actor,
        id: Uuid,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Tool, ToolError> {
        let changes = ToolChanges::from_json(body);
        for _ in 0..WRITE_ATTEMPTS {
            let current = self.writable(actor, id).await?;
            let changes = changes
                .as_ref()
                .map_err(|e| ToolError::Invalid(e.clone()))?;
            if let Some(condition) = if_match {
                if !etag_matches(condition, current.revision) {
                    return Err(ToolError::PreconditionFailed);
                }
            }
            let next = changes.applied_to(&current, Timestamp::now());
            match self.store.update(&next).await {
                Ok(true) => {
                    self.after_write(&next).await;
                    return Ok(next);
                }
                Ok(false) => continue,
                Err(StoreError::Duplicate) => return Err(ToolError::NameTaken(next.name)),
                Err(other) => return Err(other.into()),
            }
        }
        Err(ToolError::Contention)
    }

    /// Deletes the tool `id` for `actor`.
    pub async fn delete(&self, actor: &Actor, id: Uuid) -> Result<(), ToolError> {
        for _ in 0..WRITE_ATTEMPTS {
            let current = self.writable(actor, id).await?;
            if self.store.delete(id, current.revision).await? {
                if let Err(error) = self.cache.evict_deleted_tool(id).await {
                    tracing::error!(%id, %error, "deleted tool may stay cached until its TTL");
                }
                self.invalidate_lists().await;
                return Ok(());
            }
        }
        Err(ToolError::Contention)
    }

    /// The current tool `id` from the database, if `actor` may change it.
    async fn writable(&self, actor: &Actor, id: Uuid) -> Result<Tool, ToolError> {
        let current = self.store.get(id).await?.ok_or(ToolError::NotFound)?;
        if actor.may_modify(&current) {
            Ok(current)
        } else {
            Err(ToolError::Forbidden)
        }
    }

    /// After a committed create or update: cache the new revision (leaving a marker that stops
    /// older fills) and retire every cached list page.
    async fn after_write(&self, tool: &Tool) {
        match to_json(tool) {
            Ok(body) => {
                if let Err(error) = self.cache.publish_tool(tool.id, tool.revision, &body).await {
                    tracing::error!(id = %tool.id, %error, "tool cache not updated after a write");
                }
            }
            Err(error) => tracing::error!(%error, "tool not serializable"),
        }
        self.invalidate_lists().await;
    }

    async fn invalidate_lists(&self) {
        if let Err(error) = self.cache.invalidate_lists().await {
            tracing::error!(%error, "list pages not invalidated after a write");
        }
    }
}

/// Whether an `If-Match` value names `revision` (`*` matches any existing tool).
pub fn etag_matches(condition: &str, revision: i64) -> bool {
    let current = etag_for(revision);
    condition
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag == current)
}

fn to_json(value: &impl Serialize) -> Result<Vec<u8>, ToolError> {
    serde_json::to_vec(value).map_err(|e| ToolError::Internal(e.to_string()))
}

impl ToolManager<crate::store::DataApiToolStore> {
    /// The production wiring: Redis from `config.cache`, the Data API from `config.database`
    /// (its client built lazily, on the first cache miss), cursors keyed from the JWT secret.
    pub fn from_config(config: &crate::config::Config) -> Self {
        let store = crate::store::DataApiToolStore::new(crate::store::DataApi::new(
            config.database.clone(),
        ));
        Self::new(
            store,
            CacheService::new(&config.cache),
            config.auth.jwt_secret.expose(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::etag_matches;

    #[test]
    fn if_match_accepts_the_current_tag_star_and_lists() {
        assert!(etag_matches("\"r3\"", 3));
        assert!(etag_matches("*", 3));
        assert!(etag_matches("\"r1\", \"r3\"", 3));
        assert!(!etag_matches("\"r2\"", 3));
        assert!(!etag_matches("W/\"r3\"", 3));
    }
}
