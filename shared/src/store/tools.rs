//! The tool repository: a small trait and its Data API adapter.

use std::future::Future;

use serde::Deserialize;
use uuid::Uuid;

use super::{param, DataApi, StoreError};
use crate::time::Timestamp;
use crate::tools::{Cursor, ListQuery, Sort, SortKey, Tool, ToolStatus};

/// Where tools are stored: the source of truth behind the cache.
pub trait ToolStore: Send + Sync + 'static {
    /// The tool `id`, if it exists.
    fn get(&self, id: Uuid) -> impl Future<Output = Result<Option<Tool>, StoreError>> + Send;
    /// Up to `limit` tools matching `query`'s filters, in its order, strictly after `after`.
    fn list(
        &self,
        query: &ListQuery,
        after: Option<&Cursor>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Tool>, StoreError>> + Send;
    /// Inserts a new tool; [`StoreError::Duplicate`] if its name is taken.
    fn insert(&self, tool: &Tool) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Replaces the tool with `tool` if its stored revision is still `tool.revision - 1`.
    /// Returns whether it did.
    fn update(&self, tool: &Tool) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Deletes the tool `id` if its stored revision is `revision`. Returns whether it did.
    fn delete(
        &self,
        id: Uuid,
        revision: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// [`ToolStore`] on Aurora MySQL through the RDS Data API.
pub struct DataApiToolStore {
    db: DataApi,
}

impl DataApiToolStore {
    /// A store over `db`.
    pub fn new(db: DataApi) -> Self {
        Self { db }
    }

    /// The underlying Data API client.
    pub fn data_api(&self) -> &DataApi {
        &self.db
    }
}

const COLUMNS: &str = "id, name, title, description, category, tags, version, \
    input_schema AS inputSchema, output_schema AS outputSchema, annotations, status, \
    owner_id AS ownerId, revision, created_at AS createdAt, updated_at AS updatedAt";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolRow {
    id: String,
    name: String,
    title: Option<String>,
    description: String,
    category: String,
    tags: String,
    version: String,
    input_schema: String,
    output_schema: Option<String>,
    annotations: Option<String>,
    status: String,
    owner_id: String,
    revision: i64,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<ToolRow> for Tool {
    type Error = StoreError;

    fn try_from(row: ToolRow) -> Result<Self, StoreError> {
        let id = row.id.clone();
        let corrupt = |what: &str| StoreError::Corrupt(format!("tool {id}: bad {what}"));
        fn json<T: serde::de::DeserializeOwned>(
            text: &str,
            what: &str,
            id: &str,
        ) -> Result<T, StoreError> {
            serde_json::from_str(text)
                .map_err(|_| StoreError::Corrupt(format!("tool {id}: bad {what}")))
        }
        Ok(Tool {
            id: Uuid::try_parse(&row.id).map_err(|_| corrupt("id"))?,
            name: row.name.clone(),
            title: row.title.clone(),
            description: row.description.clone(),
            category: row.category.clone(),
            tags: json(&row.tags, "tags", &id)?,
            version: row.version.clone(),
            input_schema: json(&row.input_schema, "inputSchema", &id)?,
            output_schema: row
                .output_schema
                .as_deref()
                .map(|t| json(t, "outputSchema", &id))
                .transpose()?,
            annotations: row
                .annotations
                .as_deref()
                .map(|t| json(t, "annotations", &id))
                .transpose()?,
            status: ToolStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
            owner_id: Uuid::try_parse(&row.owner_id).map_err(|_| corrupt("ownerId"))?,
            revision: row.revision,
            created_at: Timestamp::from_millis(row.created_at),
            updated_at: Timestamp::from_millis(row.updated_at),
        })
    }
}

fn rows_to_tools(rows: Vec<ToolRow>) -> Result<Vec<Tool>, StoreError> {
    rows.into_iter().map(Tool::try_from).collect()
}

/// Escapes `%`, `_` and the escape character itself for `LIKE … ESCAPE '!'`.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '!') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

impl ToolStore for DataApiToolStore {
    async fn get(&self, id: Uuid) -> Result<Option<Tool>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM tools WHERE id = :id");
        let rows: Vec<ToolRow> = self.db.query(&sql, vec![param("id", id)]).await?;
        Ok(rows_to_tools(rows)?.pop())
    }

    async fn list(
        &self,
        query: &ListQuery,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Tool>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM tools WHERE 1 = 1");
        let mut params = Vec::new();
        if let Some(category) = &query.category {
            sql.push_str(" AND category = :category");
            params.push(param("category", category.as_str()));
        }
        if let Some(status) = query.status {
            sql.push_str(" AND status = :status");
            params.push(param("status", status.as_str()));
        }
        if let Some(owner) = query.owner_id {
            sql.push_str(" AND owner_id = :owner");
            params.push(param("owner", owner));
        }
        if let Some(tag) = &query.tag {
            sql.push_str(" AND JSON_CONTAINS(tags, :tag)");
            params.push(param("tag", to_json(tag)));
        }
        if let Some(q) = &query.q {
            sql.push_str(
                " AND (LOWER(name) LIKE :q ESCAPE '!' OR LOWER(COALESCE(title, '')) LIKE :q ESCAPE '!' \
                 OR LOWER(description) LIKE :q ESCAPE '!')",
            );
            params.push(param("q", like_pattern(q)));
        }
        let (column, by_name) = match query.sort {
            Sort::NameAsc | Sort::NameDesc => ("name", true),
            Sort::CreatedAsc | Sort::CreatedDesc => ("created_at", false),
            Sort::UpdatedAsc | Sort::UpdatedDesc => ("updated_at", false),
        };
        let (cmp, dir) = if query.sort.descending() {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        if let Some(cursor) = after {
            match &cursor.key {
                SortKey::Name(name) => {
                    sql.push_str(&format!(" AND name {cmp} :after"));
                    params.push(param("after", name.as_str()));
                }
                SortKey::Time(millis) => {
                    sql.push_str(&format!(
                        " AND ({column} {cmp} :after OR ({column} = :after AND id {cmp} :afterId))"
                    ));
                    params.push(param("after", *millis));
                    params.push(param("afterId", cursor.id));
                }
            }
        }
        if by_name {
            sql.push_str(&format!(" ORDER BY name {dir}"));
        } else {
            sql.push_str(&format!(" ORDER BY {column} {dir}, id {dir}"));
        }
        sql.push_str(" LIMIT :limit");
        params.push(param("limit", i64::from(limit)));
        rows_to_tools(self.db.query(&sql, params).await?)
    }

    async fn insert(&self, tool: &Tool) -> Result<(), StoreError> {
        let sql = "INSERT INTO tools (id, name, title, description, category, tags, version, \
            input_schema, output_schema, annotations, status, owner_id, revision, created_at, updated_at) \
            VALUES (:id, :name, :title, :description, :category, :tags, :version, :inputSchema, \
            :outputSchema, :annotations, :status, :ownerId, :revision, :createdAt, :updatedAt)";
        self.db.execute(sql, tool_params(tool)).await.map(drop)
    }

    async fn update(&self, tool: &Tool) -> Result<bool, StoreError> {
        let sql = "UPDATE tools SET name = :name, title = :title, description = :description, \
            category = :category, tags = :tags, version = :version, input_schema = :inputSchema, \
            output_schema = :outputSchema, annotations = :annotations, status = :status, \
            revision = :revision, updated_at = :updatedAt \
            WHERE id = :id AND revision = :expectedRevision";
        let mut params = tool_params(tool);
        params.push(param("expectedRevision", tool.revision - 1));
        Ok(self.db.execute(sql, params).await? == 1)
    }

    async fn delete(&self, id: Uuid, revision: i64) -> Result<bool, StoreError> {
        let sql = "DELETE FROM tools WHERE id = :id AND revision = :revision";
        let params = vec![param("id", id), param("revision", revision)];
        Ok(self.db.execute(sql, params).await? == 1)
    }
}

fn tool_params(tool: &Tool) -> Vec<aws_sdk_rdsdata::types::SqlParameter> {
    vec![
        param("id", tool.id),
        param("name", tool.name.as_str()),
        param("title", tool.title.clone()),
        param("description", tool.description.as_str()),
        param("category", tool.category.as_str()),
        param("tags", to_json(&tool.tags)),
        param("version", tool.version.as_str()),
        param("inputSchema", to_json(&tool.input_schema)),
        param("outputSchema", tool.output_schema.as_ref().map(to_json)),
        param("annotations", tool.annotations.as_ref().map(to_json)),
        param("status", tool.status.as_str()),
        param("ownerId", tool.owner_id),
        param("revision", tool.revision),
        param("createdAt", tool.created_at.millis()),
        param("updatedAt", tool.updated_at.millis()),
    ]
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("a%b_c!"), "%a!%b!_c!!%");
    }
}
