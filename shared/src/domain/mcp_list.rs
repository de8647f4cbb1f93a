//! The MCP shape of a list page (`GET /tools?format=mcp`): an MCP 2026-07-28 `ListToolsResult`
//! rendered from the registry's page as it is cached, so both shapes share one cache entry, one
//! cursor and one database read.
//!
//! Each tool keeps its MCP fields as published; the registry's own fields move under
//! `_meta["mcp-tool-registry/tool"]` with the MCP revisions the tool is valid under, so the
//! tools are plain MCP tools. Tools deleted since an `updatedSince` are no tools: they are
//! listed under the result's `_meta["mcp-tool-registry/deleted"]`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::mcp::{revisions_of, REGISTRY_META_PREFIX};

/// The registry's fields of a tool that an MCP `Tool` does not have.
const REGISTRY_FIELDS: [&str; 9] = [
    "id",
    "category",
    "tags",
    "version",
    "status",
    "ownerId",
    "revision",
    "createdAt",
    "updatedAt",
];

/// The `name` of the registry in `io.modelcontextprotocol/serverInfo`.
const SERVER_NAME: &str = "mcp-tool-registry";

/// A registry page as the tool service builds it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegistryPage {
    items: Vec<Map<String, Value>>,
    next_cursor: Option<String>,
}

/// MCP 2026-07-28 `ListToolsResult`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListToolsResult {
    tools: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
    ttl_ms: u128,
    cache_scope: &'static str,
    result_type: &'static str,
    #[serde(rename = "_meta")]
    meta: Map<String, Value>,
}

/// `registry_page` (the JSON of a registry page) as an MCP `ListToolsResult` that any client may
/// reuse for `ttl` (`cacheScope: "public"`: a list answers every caller alike).
pub fn render(registry_page: &[u8], ttl: Duration) -> Result<Vec<u8>, serde_json::Error> {
    let page: RegistryPage = serde_json::from_slice(registry_page)?;
    let (deleted, tools): (Vec<_>, Vec<_>) = page
        .items
        .into_iter()
        .partition(|item| item.get("status").and_then(Value::as_str) == Some("deleted"));
    let mut meta = Map::new();
    meta.insert(
        "io.modelcontextprotocol/serverInfo".to_owned(),
        json!({"name": SERVER_NAME, "version": env!("CARGO_PKG_VERSION")}),
    );
    if !deleted.is_empty() {
        meta.insert(
            format!("{REGISTRY_META_PREFIX}/deleted"),
            Value::Array(deleted.into_iter().map(Value::Object).collect()),
        );
    }
    serde_json::to_vec(&ListToolsResult {
        tools: tools.into_iter().map(mcp_tool).collect(),
        next_cursor: page.next_cursor,
        ttl_ms: ttl.as_millis(),
        cache_scope: "public",
        result_type: "complete",
        meta,
    })
}

/// The entity tag of the MCP shape of the page tagged `page_tag` (`"p<digest>"`): the shape is
/// a function of the page, the TTL and the server's version, and so is its tag.
pub fn etag(page_tag: &str, ttl: Duration) -> String {
    format!(
        "\"m{}.{}.{}",
        ttl.as_millis(),
        env!("CARGO_PKG_VERSION"),
        page_tag.trim_start_matches("\"p")
    )
}

/// A registry tool as an MCP tool: its registry fields moved under its `_meta`.
fn mcp_tool(mut tool: Map<String, Value>) -> Value {
    let mut registry = Map::new();
    for field in REGISTRY_FIELDS {
        if let Some(value) = tool.remove(field) {
            registry.insert(field.to_owned(), value);
        }
    }
    let revisions = revisions_of(
        tool.get("inputSchema").unwrap_or(&Value::Null),
        tool.get("outputSchema"),
    );
    registry.insert("mcpRevisions".to_owned(), json!(revisions));
    let meta = tool
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(meta) = meta {
        meta.insert(
            format!("{REGISTRY_META_PREFIX}/tool"),
            Value::Object(registry),
        );
    }
    Value::Object(tool)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(items: Value, next: Option<&str>) -> Vec<u8> {
        serde_json::to_vec(&json!({"items": items, "nextCursor": next})).unwrap()
    }

    fn tool(name: &str, meta: Option<Value>) -> Value {
        let mut tool = json!({
            "id": "0190b6a2-6d4e-7c1a-9f00-000000000001", "name": name, "description": "d",
            "category": "general", "tags": ["a"], "version": "1.0.0",
            "inputSchema": {"type": "object"}, "outputSchema": {"type": "array"},
            "status": "active", "ownerId": "0190b6a2-6d4e-7c1a-9f00-000000000002", "revision": 3,
            "createdAt": "2026-12-01T00:00:00.000Z", "updatedAt": "2026-12-02T00:00:00.000Z"
        });
        if let Some(meta) = meta {
            tool["_meta"] = meta;
        }
        tool
    }

    #[test]
    fn tools_keep_their_mcp_fields_and_carry_the_registrys_under_meta() {
        let body = page(
            json!([
                tool("a", Some(json!({"com.example/x": 1}))),
                tool("b", None)
            ]),
            Some("next"),
        );
        let result: Value =
            serde_json::from_slice(&render(&body, Duration::from_secs(60)).unwrap()).unwrap();
        assert_eq!(result["ttlMs"], 60_000);
        assert_eq!(result["cacheScope"], "public");
        assert_eq!(result["resultType"], "complete");
        assert_eq!(result["nextCursor"], "next");
        assert_eq!(
            result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
            SERVER_NAME
        );
        let first = &result["tools"][0];
        assert_eq!(first["name"], "a");
        assert_eq!(first["outputSchema"], json!({"type": "array"}));
        assert_eq!(first["_meta"]["com.example/x"], 1);
        let registry = &first["_meta"]["mcp-tool-registry/tool"];
        assert_eq!(registry["revision"], 3);
        assert_eq!(registry["category"], "general");
        assert_eq!(registry["mcpRevisions"], json!(["2026-07-28"]));
        for field in REGISTRY_FIELDS {
            assert!(first.get(field).is_none(), "{field} left on the tool");
        }
        assert!(result["tools"][1]["_meta"]["mcp-tool-registry/tool"].is_object());
    }

    #[test]
    fn deleted_tools_are_listed_beside_the_tools_and_the_last_page_has_no_cursor() {
        let deleted = json!({"id": "0190b6a2-6d4e-7c1a-9f00-000000000009", "name": "gone",
            "revision": 4, "updatedAt": "2026-12-03T00:00:00.000Z", "status": "deleted"});
        let body = page(json!([tool("a", None), deleted.clone()]), None);
        let result: Value =
            serde_json::from_slice(&render(&body, Duration::ZERO).unwrap()).unwrap();
        assert_eq!(result["tools"].as_array().unwrap().len(), 1);
        assert_eq!(
            result["_meta"]["mcp-tool-registry/deleted"],
            json!([deleted])
        );
        assert!(result.get("nextCursor").is_none());
        assert_eq!(result["ttlMs"], 0);
    }

    #[test]
    fn the_tag_follows_the_page_and_the_ttl() {
        let tag = etag("\"pabc\"", Duration::from_secs(60));
        assert!(
            tag.starts_with("\"m60000.") && tag.ends_with(".abc\""),
            "{tag}"
        );
        assert_ne!(tag, etag("\"pabd\"", Duration::from_secs(60)));
        assert_ne!(tag, etag("\"pabc\"", Duration::from_secs(30)));
    }
}
