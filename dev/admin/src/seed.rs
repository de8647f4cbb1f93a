//! The demo user and catalogue loaded by `make dev`.

use serde_json::{json, Value};
use shared::cache::scopes;
use shared::domain::Timestamp;
use shared::domain::ToolChanges;
use shared::services::auth::PasswordHasher;
use shared::store::{param, DataApi, DataApiToolStore, StoreError, ToolStore, WriteRecord};
use uuid::Uuid;

/// The demo user's fixed id.
pub const DEMO_USER_ID: Uuid = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);

/// A 16x16 SVG magnifier, as a `data:` URI icon.
const SEARCH_ICON_SVG: &str = "PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHZpZXdCb3g9IjAgMCAxNiAxNiI+PGNpcmNsZSBjeD0iNyIgY3k9IjciIHI9IjUiIGZpbGw9Im5vbmUiIHN0cm9rZT0iIzMzMyIgc3Ryb2tlLXdpZHRoPSIyIi8+PHBhdGggZD0iTTExIDExbDQgNCIgc3Ryb2tlPSIjMzMzIiBzdHJva2Utd2lkdGg9IjIiLz48L3N2Zz4=";

/// The MCP 2025-11-25 fields some catalogue tools carry (icons, execution, `_meta`), by name.
fn mcp_extras(name: &str) -> Option<Value> {
    let icon = |path: &str, theme: &str| json!({"src": format!("https://icons.example.com/{path}"), "mimeType": "image/png", "sizes": ["48x48", "96x96"], "theme": theme});
    Some(match name {
        "web.search" => json!({
            "icons": [{"src": format!("data:image/svg+xml;base64,{SEARCH_ICON_SVG}"), "mimeType": "image/svg+xml", "sizes": ["any"]}],
            "_meta": {"com.example.registry/provider": "Example Search", "com.example.registry/rateLimitPerMinute": 60}
        }),
        "github.create_issue" => json!({
            "icons": [icon("github-light.png", "light"), icon("github-dark.png", "dark")],
            "_meta": {"com.example.registry/docs": "https://docs.example.com/tools/github"}
        }),
        "sql.query" => json!({
            "execution": {"taskSupport": "optional"},
            "_meta": {"com.example.registry/owner-team": "analytics"}
        }),
        "weather.forecast" => json!({"icons": [icon("weather.png", "light")]}),
        _ => return None,
    })
}

fn catalogue() -> Vec<Value> {
    let mut tools = listed();
    for tool in &mut tools {
        let extras = tool["name"].as_str().and_then(mcp_extras);
        if let (Some(fields), Some(Value::Object(extras))) = (tool.as_object_mut(), extras) {
            fields.extend(extras);
        }
    }
    tools
}

fn listed() -> Vec<Value> {
    let object = |props: Value, required: Value| json!({"type": "object", "properties": props, "required": required});
    let s = |d: &str| json!({"type": "string", "description": d});
    vec![
        json!({"name": "web.search", "title": "Web search", "description": "Search the web and return the top results with titles, URLs and snippets.", "category": "search", "tags": ["web", "search"], "inputSchema": object(json!({"query": s("What to search for"), "limit": {"type": "integer", "minimum": 1, "maximum": 50}}), json!(["query"])), "annotations": {"readOnlyHint": true, "openWorldHint": true}}),
        json!({"name": "web.fetch", "title": "Fetch a URL", "description": "Fetch a web page and return it as Markdown.", "category": "search", "tags": ["web", "http"], "inputSchema": object(json!({"url": s("Absolute http(s) URL")}), json!(["url"])), "annotations": {"readOnlyHint": true, "openWorldHint": true}}),
        json!({"name": "fs.read_file", "title": "Read file", "description": "Read a UTF-8 text file from the workspace.", "category": "filesystem", "tags": ["files", "read"], "inputSchema": object(json!({"path": s("Path relative to the workspace")}), json!(["path"])), "annotations": {"readOnlyHint": true}}),
        json!({"name": "fs.write_file", "title": "Write file", "description": "Create or overwrite a text file in the workspace.", "category": "filesystem", "tags": ["files", "write"], "inputSchema": object(json!({"path": s("Path"), "content": s("New content")}), json!(["path", "content"])), "annotations": {"destructiveHint": true, "idempotentHint": true}}),
        json!({"name": "fs.list_directory", "description": "List the entries of a directory with their kinds and sizes.", "category": "filesystem", "tags": ["files"], "inputSchema": object(json!({"path": s("Directory")}), json!(["path"])), "annotations": {"readOnlyHint": true}}),
        json!({"name": "git.status", "title": "Git status", "description": "Show the working tree status of a repository.", "category": "developer", "tags": ["git", "vcs"], "inputSchema": object(json!({"repo": s("Repository path")}), json!(["repo"])), "annotations": {"readOnlyHint": true}}),
        json!({"name": "git.commit", "title": "Git commit", "description": "Record staged changes with a message.", "category": "developer", "tags": ["git", "vcs", "write"], "version": "1.2.0", "inputSchema": object(json!({"repo": s("Repository path"), "message": s("Commit message")}), json!(["repo", "message"]))}),
        json!({"name": "github.create_issue", "title": "Create GitHub issue", "description": "Open an issue in a GitHub repository.", "category": "developer", "tags": ["github", "issues"], "version": "2.0.1", "inputSchema": object(json!({"owner": s("Owner"), "repo": s("Repository"), "title": s("Title"), "body": s("Body")}), json!(["owner", "repo", "title"])), "annotations": {"openWorldHint": true}}),
        json!({"name": "sql.query", "title": "Run SQL query", "description": "Run a read-only SQL query against the analytics warehouse.", "category": "data", "tags": ["sql", "analytics"], "inputSchema": object(json!({"sql": s("A SELECT statement")}), json!(["sql"])), "outputSchema": object(json!({"rows": {"type": "array"}}), json!(["rows"])), "annotations": {"readOnlyHint": true}}),
        json!({"name": "csv.describe", "description": "Summarise the columns of a CSV file: types, nulls, ranges.", "category": "data", "tags": ["csv", "analytics"], "inputSchema": object(json!({"path": s("CSV file")}), json!(["path"]))}),
        json!({"name": "chart.render", "title": "Render chart", "description": "Render a bar, line or pie chart as PNG from a data series.", "category": "data", "tags": ["charts", "images"], "inputSchema": object(json!({"kind": {"type": "string", "enum": ["bar", "line", "pie"]}, "series": {"type": "array"}}), json!(["kind", "series"]))}),
        json!({"name": "weather.forecast", "title": "Weather forecast", "description": "Seven-day forecast for a place by name or coordinates.", "category": "utilities", "tags": ["weather"], "inputSchema": object(json!({"place": s("City or lat,lon")}), json!(["place"])), "annotations": {"readOnlyHint": true, "openWorldHint": true}}),
        json!({"name": "time.convert", "title": "Convert time zone", "description": "Convert a time between IANA time zones.", "category": "utilities", "tags": ["time"], "inputSchema": object(json!({"time": s("RFC 3339 time"), "to": s("IANA zone")}), json!(["time", "to"])), "annotations": {"readOnlyHint": true, "idempotentHint": true}}),
        json!({"name": "math.evaluate", "description": "Evaluate an arithmetic expression exactly.", "category": "utilities", "tags": ["math"], "inputSchema": object(json!({"expression": s("e.g. 2^10 / 3")}), json!(["expression"])), "annotations": {"readOnlyHint": true, "idempotentHint": true}}),
        json!({"name": "email.send", "title": "Send email", "description": "Send a plain-text email through the team's SMTP relay.", "category": "communication", "tags": ["email"], "inputSchema": object(json!({"to": s("Recipient"), "subject": s("Subject"), "body": s("Body")}), json!(["to", "subject", "body"])), "annotations": {"openWorldHint": true}}),
        json!({"name": "slack.post_message", "title": "Post to Slack", "description": "Post a message to a Slack channel.", "category": "communication", "tags": ["slack", "chat"], "inputSchema": object(json!({"channel": s("Channel"), "text": s("Message")}), json!(["channel", "text"])), "annotations": {"openWorldHint": true}}),
        json!({"name": "calendar.create_event", "title": "Create calendar event", "description": "Create an event in the shared team calendar.", "category": "productivity", "tags": ["calendar"], "inputSchema": object(json!({"title": s("Title"), "start": s("RFC 3339"), "end": s("RFC 3339")}), json!(["title", "start", "end"]))}),
        json!({"name": "notes.search", "description": "Full-text search over the team's notes.", "category": "productivity", "tags": ["notes", "search"], "inputSchema": object(json!({"query": s("Text")}), json!(["query"])), "annotations": {"readOnlyHint": true}}),
        json!({"name": "translate.text", "title": "Translate text", "description": "Translate text between languages.", "category": "language", "tags": ["translation", "nlp"], "inputSchema": object(json!({"text": s("Text"), "to": s("BCP 47 language tag")}), json!(["text", "to"])), "annotations": {"readOnlyHint": true}}),
        json!({"name": "text.summarize", "title": "Summarise text", "description": "Summarise a long text into a few sentences.", "category": "language", "tags": ["nlp"], "inputSchema": object(json!({"text": s("Text")}), json!(["text"]))}),
        json!({"name": "image.resize", "title": "Resize image", "description": "Resize a PNG or JPEG image, keeping its aspect ratio.", "category": "media", "tags": ["images"], "inputSchema": object(json!({"url": s("Image URL"), "width": {"type": "integer"}}), json!(["url", "width"]))}),
        json!({"name": "pdf.extract_text", "description": "Extract the text of a PDF document, page by page.", "category": "media", "tags": ["pdf", "documents"], "inputSchema": object(json!({"url": s("PDF URL")}), json!(["url"])), "annotations": {"readOnlyHint": true}}),
        json!({"name": "kv.get", "description": "Read a value from the team key-value store.", "category": "data", "tags": ["storage"], "status": "deprecated", "version": "0.9.0", "inputSchema": object(json!({"key": s("Key")}), json!(["key"])), "annotations": {"readOnlyHint": true}}),
        json!({"name": "http.request", "title": "HTTP request", "description": "Send an arbitrary HTTP request (superseded by web.fetch for pages).", "category": "developer", "tags": ["http", "web"], "status": "deprecated", "inputSchema": object(json!({"method": s("Method"), "url": s("URL")}), json!(["method", "url"])), "annotations": {"openWorldHint": true}}),
    ]
}

/// The demo user's email and password (local development only).
pub const DEMO_EMAIL: &str = "demo@example.com";
/// See [`DEMO_EMAIL`].
pub const DEMO_PASSWORD: &str = "demo-password";

/// Adds the demo user and every catalogue tool whose name is free. Returns how many tools it added.
pub async fn seed(db: DataApi, passwords: &PasswordHasher) -> Result<usize, StoreError> {
    db.execute(
        "INSERT INTO users (id, email, email_normalized, display_name, password_hash, role, created_at) \
         VALUES (:id, :email, :email, :name, :hash, 'user', :at) \
         ON DUPLICATE KEY UPDATE password_hash = IF(password_hash = '!', VALUES(password_hash), password_hash)",
        vec![
            param("id", DEMO_USER_ID),
            param("email", DEMO_EMAIL),
            param("name", "Demo user"),
            param(
                "hash",
                passwords
                    .hash(DEMO_PASSWORD)
                    .map_err(|e| StoreError::Database(format!("hashing the demo password: {e}")))?,
            ),
            param("at", Timestamp::now().millis()),
        ],
    )
    .await?;
    let store = DataApiToolStore::new(db);
    let mut added = 0;
    for body in catalogue() {
        let changes = ToolChanges::for_create(&body)
            .map_err(|e| StoreError::Database(format!("invalid seed tool: {e:?}")))?;
        let tool = changes.into_new_tool(Uuid::now_v7(), DEMO_USER_ID, Timestamp::now());
        // Recorded in the outbox like any write: the sweeper retires cached lists of an older catalogue.
        let scopes = scopes::of_write(None, Some(&tool));
        let write = WriteRecord {
            id: Uuid::now_v7(),
            scopes: Some(&scopes),
            key: None,
        };
        match store.insert(&tool, write).await {
            Ok(()) => added += 1,
            Err(StoreError::Duplicate) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(added)
}
