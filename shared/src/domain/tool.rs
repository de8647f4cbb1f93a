//! The tool resource and the validation of its writable fields.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::mcp::{
    validate_annotations, validate_execution, validate_icons, validate_input_schema, validate_meta,
    validate_output_schema,
};
use super::{FieldError, Timestamp};

/// A published MCP tool definition, as stored and as returned by the API. Its MCP fields (`name`,
/// `title`, `description`, `inputSchema`, `outputSchema`, `annotations`, `icons`, `execution`,
/// `_meta`) are an MCP 2026-07-28 `Tool`, and a 2025-11-25 one too unless its schemas use what
/// only 2026-07-28 allows ([`super::mcp::revisions_of`]); an optional field that is not set is
/// left out rather than sent as `null`, so that the document validates against the MCP schema as
/// it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    /// Server-set UUID v7.
    pub id: Uuid,
    /// Unique, case-sensitive name.
    pub name: String,
    /// Human-readable title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What the tool does.
    pub description: String,
    /// Lowercase category slug.
    pub category: String,
    /// Distinct lowercase tags.
    pub tags: Vec<String>,
    /// Free-form version string.
    pub version: String,
    /// JSON Schema of the tool's arguments (`type: object`).
    pub input_schema: Value,
    /// JSON Schema of the tool's structured result (any root type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// MCP tool annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Value>,
    /// MCP icons (`src`, `mimeType`, `sizes`, `theme`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icons: Option<Value>,
    /// MCP execution properties (`taskSupport`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<Value>,
    /// MCP `_meta`: metadata under namespaced keys.
    #[serde(default, rename = "_meta", skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
    /// Lifecycle status.
    pub status: ToolStatus,
    /// The user who created the tool.
    pub owner_id: Uuid,
    /// 1 on create, +1 on every update.
    pub revision: i64,
    /// Creation time.
    pub created_at: Timestamp,
    /// Time of the last update.
    pub updated_at: Timestamp,
}

impl Tool {
    /// The entity tag of this revision (quoted, strong).
    pub fn etag(&self) -> String {
        super::etag::of_revision(self.revision)
    }

    /// Whether `other` holds the same fields, whatever the revision and update time of each.
    pub fn same_fields(&self, other: &Tool) -> bool {
        let mut this = self.clone();
        this.revision = other.revision;
        this.updated_at = other.updated_at;
        this == *other
    }
}

/// The revision a delete records (in the write marker and the outbox): larger than any real
/// revision, and exact as a Lua number.
pub const DELETED_REVISION: i64 = (1 << 53) - 1;

/// Lifecycle status of a tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum ToolStatus {
    /// Listed and usable.
    #[default]
    Active,
    /// Still readable, but its owner advises against new use.
    Deprecated,
}

impl ToolStatus {
    /// The wire and database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Deprecated => "deprecated",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "deprecated" => Some(Self::Deprecated),
            _ => None,
        }
    }
}

/// The writable fields present in a create or patch body. For nullable fields the outer `Option`
/// says whether the field was present, the inner one whether it is `null`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ToolChanges {
    /// New name.
    pub name: Option<String>,
    /// New title, or `Some(None)` to clear it.
    pub title: Option<Option<String>>,
    /// New description.
    pub description: Option<String>,
    /// New category.
    pub category: Option<String>,
    /// New tags.
    pub tags: Option<Vec<String>>,
    /// New version.
    pub version: Option<String>,
    /// New input schema.
    pub input_schema: Option<Value>,
    /// New output schema, or `Some(None)` to clear it.
    pub output_schema: Option<Option<Value>>,
    /// New annotations, or `Some(None)` to clear them.
    pub annotations: Option<Option<Value>>,
    /// New icons, or `Some(None)` to clear them.
    pub icons: Option<Option<Value>>,
    /// New execution properties, or `Some(None)` to clear them.
    pub execution: Option<Option<Value>>,
    /// New `_meta`, or `Some(None)` to clear it.
    pub meta: Option<Option<Value>>,
    /// New status.
    pub status: Option<ToolStatus>,
}

const SERVER_SET: [&str; 5] = ["id", "ownerId", "revision", "createdAt", "updatedAt"];

impl ToolChanges {
    /// Validates a JSON body. Every problem found is reported, not just the first.
    pub fn from_json(body: &Value) -> Result<Self, Vec<FieldError>> {
        let Some(fields) = body.as_object() else {
            return Err(vec![FieldError::new("", "the body must be a JSON object")]);
        };
        let mut errors = Vec::new();
        let mut changes = Self::default();
        for (key, value) in fields {
            let field = key.as_str();
            let result = match field {
                "name" => required(value, validate_name).map(|v| changes.name = Some(v)),
                "title" => nullable(value, validate_title).map(|v| changes.title = Some(v)),
                "description" => {
                    required(value, validate_description).map(|v| changes.description = Some(v))
                }
                "category" => {
                    required(value, validate_category).map(|v| changes.category = Some(v))
                }
                "tags" => required(value, validate_tags).map(|v| changes.tags = Some(v)),
                "version" => required(value, validate_version).map(|v| changes.version = Some(v)),
                "inputSchema" => {
                    required(value, validate_input_schema).map(|v| changes.input_schema = Some(v))
                }
                "outputSchema" => {
                    nullable(value, validate_output_schema).map(|v| changes.output_schema = Some(v))
                }
                "annotations" => {
                    nullable(value, validate_annotations).map(|v| changes.annotations = Some(v))
                }
                "icons" => nullable(value, validate_icons).map(|v| changes.icons = Some(v)),
                "execution" => {
                    nullable(value, validate_execution).map(|v| changes.execution = Some(v))
                }
                "_meta" => nullable(value, validate_meta).map(|v| changes.meta = Some(v)),
                "status" => required(value, validate_status).map(|v| changes.status = Some(v)),
                f if SERVER_SET.contains(&f) => Err("is set by the server".to_owned()),
                _ => Err("is not a field of a tool".to_owned()),
            };
            if let Err(message) = result {
                errors.push(FieldError::new(field, message));
            }
        }
        if errors.is_empty() {
            Ok(changes)
        } else {
            Err(errors)
        }
    }

    /// Validates a create body: `name`, `description` and `inputSchema` are required.
    pub fn for_create(body: &Value) -> Result<Self, Vec<FieldError>> {
        let changes = Self::from_json(body);
        let mut errors = match &changes {
            Ok(_) => Vec::new(),
            Err(errors) => errors.clone(),
        };
        if let Some(fields) = body.as_object() {
            for field in ["name", "description", "inputSchema"] {
                if !fields.contains_key(field) {
                    errors.push(FieldError::new(field, "is required"));
                }
            }
        }
        match changes {
            Ok(changes) if errors.is_empty() => Ok(changes),
            _ => Err(errors),
        }
    }

    /// Builds a new tool from validated create changes, filling the documented defaults.
    pub fn into_new_tool(self, id: Uuid, owner_id: Uuid, now: Timestamp) -> Tool {
        Tool {
            id,
            name: self.name.unwrap_or_default(),
            title: self.title.flatten(),
            description: self.description.unwrap_or_default(),
            category: self.category.unwrap_or_else(|| "general".to_owned()),
            tags: self.tags.unwrap_or_default(),
            version: self.version.unwrap_or_else(|| "1.0.0".to_owned()),
            input_schema: self
                .input_schema
                .unwrap_or_else(|| Value::Object(Map::new())),
            output_schema: self.output_schema.flatten(),
            annotations: self.annotations.flatten(),
            icons: self.icons.flatten(),
            execution: self.execution.flatten(),
            meta: self.meta.flatten(),
            status: self.status.unwrap_or_default(),
            owner_id,
            revision: 1,
            created_at: now,
            updated_at: now,
        }
    }

    /// `tool` with these changes applied, its revision bumped and `updatedAt` set to `now`.
    pub fn applied_to(&self, tool: &Tool, now: Timestamp) -> Tool {
        let mut next = tool.clone();
        let c = self.clone();
        if let Some(v) = c.name {
            next.name = v;
        }
        if let Some(v) = c.title {
            next.title = v;
        }
        if let Some(v) = c.description {
            next.description = v;
        }
        if let Some(v) = c.category {
            next.category = v;
        }
        if let Some(v) = c.tags {
            next.tags = v;
        }
        if let Some(v) = c.version {
            next.version = v;
        }
        if let Some(v) = c.input_schema {
            next.input_schema = v;
        }
        if let Some(v) = c.output_schema {
            next.output_schema = v;
        }
        if let Some(v) = c.annotations {
            next.annotations = v;
        }
        if let Some(v) = c.icons {
            next.icons = v;
        }
        if let Some(v) = c.execution {
            next.execution = v;
        }
        if let Some(v) = c.meta {
            next.meta = v;
        }
        if let Some(v) = c.status {
            next.status = v;
        }
        next.revision = tool.revision + 1;
        next.updated_at = now.max(tool.updated_at);
        next
    }
}

fn required<T>(value: &Value, check: fn(&Value) -> Result<T, String>) -> Result<T, String> {
    if value.is_null() {
        Err("cannot be null".to_owned())
    } else {
        check(value)
    }
}

fn nullable<T>(value: &Value, check: fn(&Value) -> Result<T, String>) -> Result<Option<T>, String> {
    if value.is_null() {
        Ok(None)
    } else {
        check(value).map(Some)
    }
}

fn string(value: &Value) -> Result<&str, String> {
    value.as_str().ok_or_else(|| "must be a string".to_owned())
}

fn length_between(text: &str, min: usize, max: usize) -> Result<(), String> {
    let n = text.chars().count();
    if n < min || n > max {
        Err(format!("must be {min} to {max} characters long"))
    } else {
        Ok(())
    }
}

/// The rule of a category, as error messages state it.
pub(super) const CATEGORY_RULE: &str = "must be 1 to 64 characters of a-z, 0-9 or '-'";
/// The rule of a tag, as error messages state it.
pub(super) const TAG_RULE: &str = "must be 1 to 32 characters of a-z, 0-9 or '-'";
/// The rule of a status, as error messages state it.
pub(super) const STATUS_RULE: &str = "must be \"active\" or \"deprecated\"";

/// Whether `text` is a category: 1–64 characters of `[a-z0-9-]`.
pub fn is_category(text: &str) -> bool {
    is_slug(text, 64)
}

/// Whether `text` is a tag: 1–32 characters of `[a-z0-9-]`.
pub fn is_tag(text: &str) -> bool {
    is_slug(text, 32)
}

/// Whether `text` is 1–`max` characters of `[a-z0-9-]`.
fn is_slug(text: &str, max: usize) -> bool {
    !text.is_empty()
        && text.len() <= max
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Whether `text` is a valid tool name: 1–128 characters of `[A-Za-z0-9_.-]`.
pub fn is_tool_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn validate_name(value: &Value) -> Result<String, String> {
    let text = string(value)?;
    if is_tool_name(text) {
        Ok(text.to_owned())
    } else {
        Err("must be 1 to 128 characters of A-Z, a-z, 0-9, '_', '.' or '-'".to_owned())
    }
}

fn validate_title(value: &Value) -> Result<String, String> {
    let text = string(value)?;
    length_between(text, 0, 200)?;
    Ok(text.to_owned())
}

fn validate_description(value: &Value) -> Result<String, String> {
    let text = string(value)?;
    length_between(text, 1, 4000)?;
    Ok(text.to_owned())
}

fn validate_category(value: &Value) -> Result<String, String> {
    let text = string(value)?;
    if is_category(text) {
        Ok(text.to_owned())
    } else {
        Err(CATEGORY_RULE.to_owned())
    }
}

fn validate_tags(value: &Value) -> Result<Vec<String>, String> {
    let items = value
        .as_array()
        .ok_or_else(|| "must be an array of strings".to_owned())?;
    if items.len() > 20 {
        return Err("must hold at most 20 tags".to_owned());
    }
    let mut tags: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let tag = item
            .as_str()
            .ok_or_else(|| "must be an array of strings".to_owned())?;
        if !is_tag(tag) {
            return Err(format!("tag {tag:?} {TAG_RULE}"));
        }
        if tags.iter().any(|t| t == tag) {
            return Err(format!("tag {tag:?} appears twice"));
        }
        tags.push(tag.to_owned());
    }
    Ok(tags)
}

fn validate_version(value: &Value) -> Result<String, String> {
    let text = string(value)?;
    length_between(text, 1, 64)?;
    Ok(text.to_owned())
}

fn validate_status(value: &Value) -> Result<ToolStatus, String> {
    ToolStatus::parse(string(value)?).ok_or_else(|| STATUS_RULE.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        let mut f: Vec<String> = errors.into_iter().map(|e| e.field).collect();
        f.sort();
        f
    }

    #[test]
    fn create_fills_defaults() {
        let body = json!({"name": "a.b", "description": "d", "inputSchema": {"type": "object"}});
        let tool = ToolChanges::for_create(&body).unwrap().into_new_tool(
            Uuid::nil(),
            Uuid::nil(),
            Timestamp::from_millis(0),
        );
        assert_eq!(tool.category, "general");
        assert_eq!(tool.version, "1.0.0");
        assert_eq!(tool.status, ToolStatus::Active);
        assert!(tool.tags.is_empty());
        assert_eq!(tool.revision, 1);
    }

    #[test]
    fn create_reports_every_missing_and_invalid_field() {
        let body = json!({"name": "bad name", "tags": ["A"], "id": "x", "colour": 1});
        let errors = ToolChanges::for_create(&body).unwrap_err();
        assert_eq!(
            fields(errors),
            ["colour", "description", "id", "inputSchema", "name", "tags"]
        );
    }

    #[test]
    fn patch_null_clears_nullable_and_refuses_required() {
        let changes = ToolChanges::from_json(&json!({"title": null})).unwrap();
        assert_eq!(changes.title, Some(None));
        let errors = ToolChanges::from_json(&json!({"description": null})).unwrap_err();
        assert_eq!(fields(errors), ["description"]);
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        let title = "é".repeat(200);
        assert!(validate_title(&json!(title)).is_ok());
        assert!(validate_title(&json!("é".repeat(201))).is_err());
    }
}
