//! MCP tool fields (icons, execution, `_meta`, `$schema`, and what 2026-07-28 widened: any
//! output schema root, any JSON Schema keyword, `x-mcp-header`), conditional list reads (page
//! ETags, 304, Cache-Control), incremental sync (`updatedSince`) and MCP-shaped pages
//! (`format=mcp`), against the real services. Every tool the API serves here is checked against
//! the MCP Tool JSON schemas in `tests/data/` of the revisions it is valid under, and every
//! MCP-shaped page against the 2026-07-28 `ListToolsResult` schema.

use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Body;
use http::{Method, Request, StatusCode};
use integration_tests::{
    redis_url, refused_url, runtime, test_config, tool_body, TestApp, TestResponse,
};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::{json, Value};
use shared::cache::CacheKeys;
use shared::domain::ListQuery;
use uuid::Uuid;

/// A schema of `tests/data`, compiled once into `cell`.
fn compiled(
    cell: &'static OnceLock<jsonschema::Validator>,
    text: &str,
) -> &'static jsonschema::Validator {
    cell.get_or_init(|| {
        let schema: Value = serde_json::from_str(text).expect("the schema is JSON");
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("the schema compiles")
    })
}

/// The MCP 2025-11-25 `Tool` schema.
fn mcp_tool_schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    compiled(
        &SCHEMA,
        include_str!("../data/mcp-2025-11-25-tool.schema.json"),
    )
}

/// The MCP 2026-07-28 `Tool` schema.
fn mcp_2026_tool_schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    compiled(
        &SCHEMA,
        include_str!("../data/mcp-2026-07-28-tool.schema.json"),
    )
}

/// The MCP 2026-07-28 `ListToolsResult` schema.
fn mcp_list_schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    compiled(
        &SCHEMA,
        include_str!("../data/mcp-2026-07-28-list-tools-result.schema.json"),
    )
}

/// Panics, naming every violation, unless `value` is valid under `schema`.
fn assert_valid(schema: &jsonschema::Validator, value: &Value, what: &str) {
    let errors: Vec<String> = schema
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "not {what}: {errors:?}\n{value}");
}

/// Panics unless `tool` is an MCP Tool of every revision in `revisions`.
fn assert_tool_of(revisions: &[&str], tool: &Value) {
    for revision in revisions {
        match *revision {
            "2025-11-25" => assert_valid(mcp_tool_schema(), tool, "an MCP 2025-11-25 Tool"),
            "2026-07-28" => assert_valid(mcp_2026_tool_schema(), tool, "an MCP 2026-07-28 Tool"),
            other => panic!("an MCP revision the registry does not claim: {other}"),
        }
    }
}

/// Panics unless `tool` is an MCP Tool of both revisions (as a tool using nothing new in
/// 2026-07-28 is).
fn assert_mcp_tool(tool: &Value) {
    assert_tool_of(&["2025-11-25", "2026-07-28"], tool);
}

const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==";

/// A body using every MCP field the registry stores.
fn full_mcp_body(prefix: &str) -> Value {
    let mut body = tool_body(prefix);
    body["title"] = json!("Full MCP tool");
    body["inputSchema"] = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"]
    });
    body["outputSchema"] = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"temperature": {"type": "number"}}
    });
    body["annotations"] = json!({"readOnlyHint": true, "openWorldHint": true});
    body["icons"] = json!([
        {"src": "https://example.com/icon-light.png", "mimeType": "image/png", "sizes": ["48x48", "96x96"], "theme": "light"},
        {"src": format!("data:image/png;base64,{PNG_1X1}"), "sizes": ["any"], "theme": "dark"}
    ]);
    body["execution"] = json!({"taskSupport": "optional"});
    body["_meta"] = json!({
        "com.example/team": "weather",
        "com.example.mcp/nested": {"a": [1, 2, {"b": null}]},
        "plain-key": true
    });
    body
}

const MCP_FIELDS: [&str; 9] = [
    "name",
    "title",
    "description",
    "inputSchema",
    "outputSchema",
    "annotations",
    "icons",
    "execution",
    "_meta",
];

fn assert_same_mcp_fields(served: &Value, sent: &Value) {
    for field in MCP_FIELDS {
        assert_eq!(served[field], sent[field], "{field}");
    }
}

async fn get_with(app: &TestApp, path: &str, if_none_match: &str) -> TestResponse {
    app.send(
        Request::get(path)
            .header("if-none-match", if_none_match)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

/// Every item of every page of `path` (following `nextCursor`), each tool checked against the
/// MCP 2026-07-28 Tool schema (which every tool the registry takes fits).
async fn walk(app: &TestApp, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut next = path.to_owned();
    loop {
        let page = app.get(&next).await;
        assert_eq!(page.status, StatusCode::OK, "{next}: {}", page.text());
        let page = page.json();
        for item in page["items"].as_array().unwrap() {
            if item["status"] == "deleted" {
                // A deleted tool (in lists of changes): its tombstone, nothing else.
                let mut fields: Vec<&String> = item.as_object().unwrap().keys().collect();
                fields.sort();
                assert_eq!(fields, ["id", "name", "revision", "status", "updatedAt"]);
            } else {
                assert_tool_of(&["2026-07-28"], item);
            }
            items.push(item.clone());
        }
        match page["nextCursor"].as_str() {
            Some(cursor) => {
                let sep = if path.contains('?') { '&' } else { '?' };
                next = format!("{path}{sep}cursor={cursor}");
            }
            None => return items,
        }
    }
}

#[tokio::test]
async fn mcp_fields_round_trip_through_create_patch_the_cache_and_lists() {
    let app = TestApp::start().await;
    let (token, owner) = app.user().await;
    let body = full_mcp_body("mcp.full");
    let created = app.create(&token, &body).await;
    assert_same_mcp_fields(&created, &body);
    assert_mcp_tool(&created);
    let id = created["id"].as_str().unwrap().to_owned();

    // The write published the tool: read it from the cache, and from the database beside it.
    let hit = app.get(&format!("/tools/{id}")).await;
    assert_eq!(hit.cache(), "HIT");
    assert_eq!(hit.json(), created);
    let database = app.beside(&refused_url()).await;
    let direct = database.get(&format!("/tools/{id}")).await;
    assert_eq!(direct.cache(), "BYPASS");
    assert_eq!(direct.json(), created);
    assert_eq!(
        walk(&database, &format!("/tools?ownerId={owner}")).await,
        std::slice::from_ref(&created)
    );
    let listed = walk(&app, &format!("/tools?ownerId={owner}")).await;
    assert_eq!(listed, std::slice::from_ref(&created));

    // A patch replaces a field; null clears it (and a cleared field is left out, as MCP wants).
    let patch = json!({
        "icons": [{"src": "https://example.com/other.svg", "mimeType": "image/svg+xml"}],
        "execution": null,
        "_meta": null,
        "outputSchema": null
    });
    let patched = app
        .json(Method::PATCH, &format!("/tools/{id}"), &token, &patch)
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
    let patched = patched.json();
    assert_eq!(patched["icons"], patch["icons"]);
    for cleared in ["execution", "_meta", "outputSchema"] {
        assert!(
            patched.get(cleared).is_none(),
            "{cleared} is still sent: {patched}"
        );
    }
    assert_eq!(patched["inputSchema"], body["inputSchema"]);
    assert_eq!(patched["annotations"], body["annotations"]);
    assert_mcp_tool(&patched);
    assert_eq!(app.get(&format!("/tools/{id}")).await.json(), patched);
    assert_eq!(
        walk(&app, &format!("/tools?ownerId={owner}")).await,
        std::slice::from_ref(&patched)
    );
    // Every list shape serves the same document.
    let name = patched["name"].as_str().unwrap().to_lowercase();
    for query in [
        format!("/tools?q={name}"),
        format!("/tools?ownerId={owner}&sort=-updatedAt&limit=1"),
        "/tools?limit=100".to_owned(),
    ] {
        let items = walk(&app, &query).await;
        assert!(items.contains(&patched), "{query}");
    }
}

#[tokio::test]
async fn every_mcp_field_rule_is_a_422_naming_the_field() {
    let app = TestApp::start().await;
    let (token, _) = app.user().await;
    let cases: Vec<(&str, Value)> = vec![
        ("icons", json!({"src": "https://example.com/i.png"})),
        ("icons", json!([{"src": "http://example.com/i.png"}])),
        ("icons", json!([{"src": "javascript:alert(1)"}])),
        ("icons", json!([{"src": "data:text/html;base64,PGI+"}])),
        (
            "icons",
            json!([{"src": "data:image/png;base64,not base64!"}]),
        ),
        ("icons", json!([{"mimeType": "image/png"}])),
        (
            "icons",
            json!([{"src": "https://e.com/i", "mimeType": "text/plain"}]),
        ),
        (
            "icons",
            json!([{"src": "https://e.com/i", "sizes": "48x48"}]),
        ),
        (
            "icons",
            json!([{"src": "https://e.com/i", "sizes": ["big"]}]),
        ),
        (
            "icons",
            json!([{"src": "https://e.com/i", "theme": "blue"}]),
        ),
        ("icons", json!([{"src": "https://e.com/i", "alt": "icon"}])),
        ("icons", json!(vec![json!({"src": "https://e.com/i"}); 9])),
        ("execution", json!({"taskSupport": "sometimes"})),
        ("execution", json!({"taskSupport": "optional", "ttl": 5})),
        ("execution", json!("optional")),
        ("_meta", json!(["com.example/a"])),
        ("_meta", json!({"io.modelcontextprotocol/official": true})),
        ("_meta", json!({"dev.mcp/x": 1})),
        ("_meta", json!({"9com.example/x": 1})),
        ("_meta", json!({"com.example/-x": 1})),
        ("_meta", json!({"com.example/x": "v".repeat(9000)})),
        ("inputSchema", json!({"type": "object", "$schema": 2020})),
        ("_meta", json!({"mcp-tool-registry/tool": {"id": 1}})),
        (
            "inputSchema",
            json!({"type": "object", "properties": {"a": 1}}),
        ),
        ("inputSchema", json!({"type": "object", "required": "a"})),
        (
            "inputSchema",
            json!({"type": "object", "properties": {"a": {"type": "string", "x-mcp-header": "A B"}}}),
        ),
        (
            "inputSchema",
            json!({"type": "object", "properties": {"a": {"type": "number", "x-mcp-header": "A"}}}),
        ),
        (
            "inputSchema",
            json!({"type": "object", "items": {"type": "string", "x-mcp-header": "A"}}),
        ),
        ("outputSchema", json!({"type": "object", "required": [1]})),
        ("outputSchema", json!({"type": "text"})),
        ("outputSchema", json!([{"type": "string"}])),
    ];
    for (field, value) in cases {
        let mut body = tool_body("mcp.invalid");
        body[field] = value.clone();
        let response = app.json(Method::POST, "/tools", &token, &body).await;
        assert_eq!(
            response.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field} = {value}: {}",
            response.text()
        );
        let problem = response.json();
        let errors = problem["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{problem}");
        assert_eq!(errors[0]["field"], field, "{field} = {value}");
        let message = errors[0]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty());
        if value.to_string().contains("x-mcp-header") {
            assert!(message.contains("x-mcp-header"), "{value}: {message}");
        }
    }
    // A patch is held to the same rules, and a refused patch changes nothing.
    let tool = app.create(&token, &full_mcp_body("mcp.patch")).await;
    let id = tool["id"].as_str().unwrap();
    let response = app
        .json(
            Method::PATCH,
            &format!("/tools/{id}"),
            &token,
            &json!({"icons": [{"src": "file:///etc/passwd"}], "title": "changed"}),
        )
        .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get(&format!("/tools/{id}")).await.json(), tool);
    // The limits are inclusive, and any dialect is taken as given.
    let mut body = tool_body("mcp.limits");
    body["icons"] = json!(vec![json!({"src": "https://e.com/i"}); 8]);
    body["_meta"] = json!({"com.example/x": "v".repeat(8 * 1024 - 20)});
    body["inputSchema"] = json!({"type": "object", "$schema": "https://example.com/my-dialect"});
    let created = app.create(&token, &body).await;
    assert_eq!(created["inputSchema"], body["inputSchema"]);
    assert_mcp_tool(&created);
}

#[tokio::test]
async fn tools_without_optional_fields_are_mcp_tools_too() {
    let app = TestApp::start().await;
    let (token, owner) = app.user().await;
    let mut body = tool_body("mcp.minimal");
    body["title"] = Value::Null;
    let tool = app.create(&token, &body).await;
    assert_mcp_tool(&tool);
    for absent in [
        "title",
        "outputSchema",
        "annotations",
        "icons",
        "execution",
        "_meta",
    ] {
        assert!(tool.get(absent).is_none(), "{absent} is sent: {tool}");
    }
    assert_eq!(walk(&app, &format!("/tools?ownerId={owner}")).await, [tool]);
}

fn icon_strategy() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            "[a-z]{1,12}(/[a-z0-9_.-]{1,12}){0,3}"
                .prop_map(|p| format!("https://icons.example.com/{p}")),
            proptest::collection::vec(any::<u8>(), 1..48).prop_map(|bytes| {
                use base64::Engine as _;
                let data = base64::engine::general_purpose::STANDARD.encode(bytes);
                format!("data:image/png;base64,{data}")
            }),
        ],
        proptest::option::of(prop_oneof![
            Just("image/png"),
            Just("image/svg+xml"),
            Just("image/webp")
        ]),
        proptest::option::of(proptest::collection::vec(
            prop_oneof![
                Just("any".to_owned()),
                (1u32..1024, 1u32..1024).prop_map(|(w, h)| format!("{w}x{h}"))
            ],
            0..4,
        )),
        proptest::option::of(prop_oneof![Just("light"), Just("dark")]),
    )
        .prop_map(|(src, mime, sizes, theme)| {
            let mut icon = json!({"src": src});
            if let Some(mime) = mime {
                icon["mimeType"] = json!(mime);
            }
            if let Some(sizes) = sizes {
                icon["sizes"] = json!(sizes);
            }
            if let Some(theme) = theme {
                icon["theme"] = json!(theme);
            }
            icon
        })
}

fn meta_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        "[ -~é]{0,16}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            proptest::collection::btree_map("[a-z]{1,6}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Random valid tools using the MCP fields.
fn mcp_tool_strategy() -> impl Strategy<Value = Value> {
    (
        proptest::option::of(proptest::collection::vec(icon_strategy(), 0..4)),
        proptest::option::of(prop_oneof![
            Just(json!({})),
            Just(json!({"taskSupport": "forbidden"})),
            Just(json!({"taskSupport": "optional"})),
            Just(json!({"taskSupport": "required"})),
        ]),
        proptest::option::of(proptest::collection::btree_map(
            "([a-z][a-z0-9-]{0,6}[a-z0-9]\\.){1,2}[a-z][a-z0-9]{0,6}/[A-Za-z0-9]([A-Za-z0-9._-]{0,8}[A-Za-z0-9])?",
            meta_value(),
            0..4,
        )),
        proptest::option::of(prop_oneof![
            Just("https://json-schema.org/draft/2020-12/schema"),
            Just("http://json-schema.org/draft-07/schema#"),
        ]),
        proptest::option::of("[ -~]{1,30}"),
    )
        .prop_filter("second label reserved for MCP", |(_, _, meta, _, _)| {
            meta.as_ref().is_none_or(|m| {
                m.keys().all(|k| {
                    let second = k.split('/').next().unwrap().split('.').nth(1);
                    !matches!(second, Some("mcp" | "modelcontextprotocol"))
                })
            })
        })
        .prop_map(|(icons, execution, meta, dialect, title)| {
            let mut body = tool_body("mcp.prop");
            if let Some(icons) = icons {
                body["icons"] = json!(icons);
            }
            if let Some(execution) = execution {
                body["execution"] = execution;
            }
            if let Some(meta) = meta {
                body["_meta"] = Value::Object(meta.into_iter().collect());
            }
            if let Some(dialect) = dialect {
                body["inputSchema"]["$schema"] = json!(dialect);
            }
            if let Some(title) = title {
                body["title"] = json!(title);
            }
            body
        })
}

/// Create → read from the cache → read from the database → list: the same MCP fields every time,
/// and an MCP Tool every time.
#[test]
fn random_mcp_tools_round_trip_unchanged() {
    let rt = runtime();
    let app = rt.block_on(TestApp::start());
    let database = rt.block_on(app.beside(&refused_url()));
    let (token, owner) = rt.block_on(app.user());
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&mcp_tool_strategy(), |body| {
            rt.block_on(async {
                let created = app.create(&token, &body).await;
                assert_same_mcp_fields(&created, &body);
                assert_mcp_tool(&created);
                let id = created["id"].as_str().unwrap();
                let path = format!("/tools/{id}");
                let cached = app.get(&path).await;
                assert_eq!(cached.cache(), "HIT");
                assert_eq!(cached.json(), created);
                let direct = database.get(&path).await;
                assert_eq!(direct.cache(), "BYPASS");
                assert_eq!(direct.json(), created);
                let page = app
                    .get(&format!("/tools?ownerId={owner}&sort=-createdAt&limit=1"))
                    .await
                    .json();
                assert_eq!(page["items"][0], created);
            });
            Ok(())
        })
        .unwrap();
}

#[tokio::test]
async fn list_pages_carry_an_etag_and_answer_304_until_they_change() {
    let app = TestApp::start().await;
    let (token, owner) = app.user().await;
    app.create(&token, &tool_body("etag.a")).await;
    let path = format!("/tools?ownerId={owner}");

    let first = app.get(&path).await;
    let etag = first.header("etag").expect("a page ETag").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_eq!(first.header("cache-control"), Some("public, no-cache"));
    // A hit serves the tag stored with the page; an equivalent query shares the entry.
    let hit = app.get(&format!("{path}&limit=20&sort=name")).await;
    assert_eq!(hit.cache(), "HIT");
    assert_eq!(hit.header("etag"), Some(etag.as_str()));
    assert_eq!(hit.body, first.body);

    for condition in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"x\", {etag}"),
        "*".into(),
    ] {
        let not_modified = get_with(&app, &path, &condition).await;
        assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED, "{condition}");
        assert!(not_modified.body.is_empty());
        assert_eq!(not_modified.header("etag"), Some(etag.as_str()));
        assert_eq!(
            not_modified.header("cache-control"),
            Some("public, no-cache")
        );
    }
    assert_eq!(get_with(&app, &path, "\"p0\"").await.status, StatusCode::OK);

    // Without Redis the page is built from the database: same body, same tag.
    let bypass = app.beside(&refused_url()).await;
    let direct = get_with(&bypass, &path, &etag).await;
    assert_eq!(direct.cache(), "BYPASS");
    assert_eq!(direct.status, StatusCode::NOT_MODIFIED);

    // A write that changes the page changes its tag at once; the old tag no longer matches.
    app.create(&token, &tool_body("etag.b")).await;
    let changed = get_with(&app, &path, &etag).await;
    assert_eq!(changed.status, StatusCode::OK);
    let new_etag = changed.header("etag").unwrap().to_owned();
    assert_ne!(new_etag, etag);
    assert_eq!(changed.json()["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        get_with(&app, &path, &new_etag).await.status,
        StatusCode::NOT_MODIFIED
    );
    let tool = changed.json()["items"][0].clone();
    let id = tool["id"].as_str().unwrap();
    let patched = app
        .json(
            Method::PATCH,
            &format!("/tools/{id}"),
            &token,
            &json!({"_meta": {"com.example/v": 2}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    let after_patch = get_with(&app, &path, &new_etag).await;
    assert_eq!(after_patch.status, StatusCode::OK);
    assert_ne!(after_patch.header("etag"), Some(new_etag.as_str()));
    assert_eq!(
        after_patch.json()["items"][0]["_meta"],
        json!({"com.example/v": 2})
    );
}

#[tokio::test]
async fn reads_say_how_shared_caches_may_keep_them_and_problems_are_not_kept() {
    let app = TestApp::start().await;
    let (token, _) = app.user().await;
    let tool = app.create(&token, &tool_body("cc")).await;
    let id = tool["id"].as_str().unwrap();
    for path in [format!("/tools/{id}"), "/tools".to_owned()] {
        let response = app.get(&path).await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(
            response.header("cache-control"),
            Some("public, no-cache"),
            "{path}"
        );
    }
    for path in [
        format!("/tools/{}", Uuid::now_v7()),
        "/tools/not-a-uuid".to_owned(),
        "/tools?limit=0".to_owned(),
    ] {
        let response = app.get(&path).await;
        assert!(response.status.is_client_error(), "{path}");
        assert_eq!(response.header("cache-control"), Some("no-store"), "{path}");
    }
}

#[tokio::test]
async fn updated_since_keeps_only_what_changed_and_combines_with_filters_and_cursors() {
    let app = TestApp::start().await;
    let (token, owner) = app.user().await;
    let (other_token, _) = app.user().await;
    let mut old = Vec::new();
    for i in 0..3 {
        old.push(
            app.create(&token, &tool_body(&format!("since.old{i}")))
                .await,
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let mark = shared::domain::Timestamp::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let mut new = Vec::new();
    for i in 0..5 {
        let mut body = tool_body(&format!("since.new{i}"));
        body["category"] = json!(if i % 2 == 0 { "even" } else { "odd" });
        new.push(app.create(&token, &body).await);
    }
    // Someone else's recent tool matches the time but not the owner filter.
    app.create(&other_token, &tool_body("since.other")).await;
    // An old tool updated after the mark counts as changed.
    let id = old[0]["id"].as_str().unwrap();
    let touched = app
        .json(
            Method::PATCH,
            &format!("/tools/{id}"),
            &token,
            &json!({"version": "2.0.0"}),
        )
        .await
        .json();
    // A deleted recent tool is listed as deleted, its revision one past its last.
    let gone = new.pop().unwrap();
    let gone_id = gone["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/tools/{gone_id}"), &token)
            .await
            .status,
        StatusCode::NO_CONTENT
    );

    let since = mark.to_rfc3339();
    let names = |items: &[Value]| {
        let mut names: Vec<String> = items
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let mut expected: Vec<Value> = new.clone();
    expected.push(touched.clone());
    expected.push(gone.clone());
    // Two to a page, so the walk crosses cursors.
    let changed = walk(
        &app,
        &format!("/tools?ownerId={owner}&updatedSince={since}&limit=2"),
    )
    .await;
    assert_eq!(names(&changed), names(&expected));
    let deleted: Vec<&Value> = changed
        .iter()
        .filter(|t| t["status"] == "deleted")
        .collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!(
        (&deleted[0]["id"], &deleted[0]["revision"]),
        (&gone["id"], &json!(2))
    );
    let even = walk(
        &app,
        &format!("/tools?ownerId={owner}&updatedSince={since}&category=even&sort=-updatedAt"),
    )
    .await;
    // The deleted tool was in `even`: its tombstone matches the filter it matched.
    assert_eq!(
        names(&even),
        names(
            &new.iter()
                .chain([&gone])
                .filter(|t| t["category"] == "even")
                .cloned()
                .collect::<Vec<_>>()
        )
    );
    let everything = walk(&app, &format!("/tools?ownerId={owner}")).await;
    assert_eq!(everything.len(), old.len() + new.len());
    // A time after every write: nothing changed since.
    let later = shared::domain::Timestamp::now()
        .plus(std::time::Duration::from_secs(1))
        .to_rfc3339();
    let none = app
        .get(&format!("/tools?ownerId={owner}&updatedSince={later}"))
        .await
        .json();
    assert_eq!(none, json!({"items": [], "nextCursor": null}));
    // Other offsets name the same instant (a `+` is sent as %2B).
    let shifted =
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(mark.millis()) * 1_000_000)
            .unwrap()
            .to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap())
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
            .replace('+', "%2B");
    let same = walk(
        &app,
        &format!("/tools?ownerId={owner}&updatedSince={shifted}&limit=2"),
    )
    .await;
    assert_eq!(names(&same), names(&expected));

    for bad in [
        "yesterday",
        "2026-11-23",
        "2026-11-23T22:00:00",
        "2026-13-01T00:00:00Z",
    ] {
        let response = app.get(&format!("/tools?updatedSince={bad}")).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(response.json()["errors"][0]["field"], "updatedSince");
    }
}

#[test]
fn updated_since_is_part_of_the_canonical_cached_query() {
    let keys = CacheKeys::new("p");
    let key = |raw: &str| keys.list_page(&ListQuery::parse(Some(raw)).unwrap());
    let base = key("category=x");
    let since = key("category=x&updatedSince=2026-11-23T22:00:00.000Z");
    assert_ne!(base, since);
    assert_eq!(
        since,
        key("updatedSince=2026-11-23T23:00:00%2B01:00&category=x&limit=20")
    );
    assert_eq!(
        since,
        key("updatedSince=2026-11-23T21:59:59.9999Z&category=x")
    );
    assert_ne!(
        since,
        key("category=x&updatedSince=2026-11-23T22:00:00.001Z")
    );
}

/// The schemas the served tools and pages are checked against do refuse what MCP refuses (so
/// the checks above can fail).
#[test]
fn the_mcp_schemas_refuse_non_tools_and_incomplete_pages() {
    let valid = json!({"name": "t", "inputSchema": {"type": "object"}});
    assert!(mcp_tool_schema().is_valid(&valid));
    assert!(mcp_2026_tool_schema().is_valid(&valid));
    for (field, value) in [
        ("inputSchema", json!({"type": "array"})),
        ("outputSchema", json!(true)),
        ("icons", json!([{"mimeType": "image/png"}])),
        ("_meta", json!([])),
    ] {
        let mut tool = valid.clone();
        tool[field] = value.clone();
        assert!(!mcp_2026_tool_schema().is_valid(&tool), "{field} = {value}");
    }
    let page = json!({"tools": [valid.clone()], "ttlMs": 0, "cacheScope": "public", "resultType": "complete"});
    assert!(mcp_list_schema().is_valid(&page));
    for (field, value) in [
        ("ttlMs", json!(-1)),
        ("cacheScope", json!("shared")),
        ("tools", json!([{"name": "no input schema"}])),
    ] {
        let mut bad = page.clone();
        bad[field] = value.clone();
        assert!(!mcp_list_schema().is_valid(&bad), "{field} = {value}");
    }
    for missing in ["ttlMs", "cacheScope", "resultType", "tools"] {
        let mut bad = page.clone();
        bad.as_object_mut().unwrap().remove(missing);
        assert!(!mcp_list_schema().is_valid(&bad), "without {missing}");
    }
    for (field, value) in [
        ("title", Value::Null),
        ("outputSchema", Value::Null),
        ("inputSchema", json!({"type": "array"})),
        ("icons", json!([{"mimeType": "image/png"}])),
        (
            "icons",
            json!([{"src": "https://e.com/i", "theme": "blue"}]),
        ),
        (
            "icons",
            json!([{"src": "https://e.com/i", "sizes": "48x48"}]),
        ),
        ("execution", json!({"taskSupport": "always"})),
        ("annotations", json!({"readOnlyHint": "yes"})),
        ("_meta", json!([])),
    ] {
        let mut tool = valid.clone();
        tool[field] = value.clone();
        assert!(!mcp_tool_schema().is_valid(&tool), "{field} = {value}");
    }
}

/// A tool only MCP 2026-07-28 allows: an array result, a boolean property schema, composition
/// keywords, and an argument mirrored into an HTTP header.
fn tool_2026_body(prefix: &str) -> Value {
    let mut body = tool_body(prefix);
    body["inputSchema"] = json!({
        "type": "object",
        "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "query": {"type": "string"},
            "options": true
        },
        "required": ["region", "query"],
        "anyOf": [{"required": ["query"]}],
        "$defs": {"unused": {"type": "integer"}}
    });
    body["outputSchema"] = json!({"type": "array", "items": {"type": "string"}});
    body
}

/// An MCP-shaped tool back in the registry's shape: its registry fields out of `_meta`.
fn as_registry_tool(tool: &Value) -> Value {
    let mut tool = tool.clone();
    let meta = tool["_meta"].as_object_mut().unwrap();
    let registry = meta.remove("mcp-tool-registry/tool").unwrap();
    if meta.is_empty() {
        tool.as_object_mut().unwrap().remove("_meta");
    }
    for (field, value) in registry.as_object().unwrap() {
        if field != "mcpRevisions" {
            tool[field] = value.clone();
        }
    }
    tool
}

/// The MCP revisions the MCP-shaped `tool` says it is valid under.
fn claimed_revisions(tool: &Value) -> Vec<&str> {
    tool["_meta"]["mcp-tool-registry/tool"]["mcpRevisions"]
        .as_array()
        .expect("every MCP-shaped tool claims its revisions")
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect()
}

/// `path` (a `/tools` query) in the MCP shape.
fn mcp(path: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}format=mcp")
}

/// Every tool of every page of `path` in the MCP shape (following `nextCursor`): each page
/// checked against the 2026-07-28 `ListToolsResult` schema, each tool against the revisions it
/// claims.
async fn walk_mcp(app: &TestApp, path: &str) -> Vec<Value> {
    let mut tools = Vec::new();
    let mut next = mcp(path);
    loop {
        let page = app.get(&next).await;
        assert_eq!(page.status, StatusCode::OK, "{next}: {}", page.text());
        let page = page.json();
        assert_valid(
            mcp_list_schema(),
            &page,
            "an MCP 2026-07-28 ListToolsResult",
        );
        assert_eq!(page["resultType"], "complete");
        assert_eq!(page["cacheScope"], "public");
        for tool in page["tools"].as_array().unwrap() {
            assert_tool_of(&claimed_revisions(tool), tool);
            tools.push(tool.clone());
        }
        match page["nextCursor"].as_str() {
            Some(cursor) => next = format!("{}&cursor={cursor}", mcp(path)),
            None => return tools,
        }
    }
}

#[tokio::test]
async fn a_2026_07_28_tool_round_trips_through_create_the_cache_lists_and_the_mcp_shape() {
    let app = TestApp::start().await;
    let (token, owner) = app.user().await;
    let body = tool_2026_body("mcp.2026");
    let created = app.create(&token, &body).await;
    assert_same_mcp_fields(&created, &body);
    assert_tool_of(&["2026-07-28"], &created);
    // The 2025-11-25 schema does refuse it: the claims below can be wrong.
    assert!(!mcp_tool_schema().is_valid(&created), "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let hit = app.get(&format!("/tools/{id}")).await;
    assert_eq!(hit.cache(), "HIT");
    assert_eq!(hit.json(), created);
    let older = app.create(&token, &full_mcp_body("mcp.2025")).await;

    let path = format!("/tools?ownerId={owner}");
    let listed = walk(&app, &path).await;
    assert_eq!(listed, [older.clone(), created.clone()]);
    let shaped = walk_mcp(&app, &path).await;
    let back: Vec<Value> = shaped.iter().map(as_registry_tool).collect();
    assert_eq!(back, listed);
    assert_eq!(claimed_revisions(&shaped[0]), ["2025-11-25", "2026-07-28"]);
    assert_eq!(claimed_revisions(&shaped[1]), ["2026-07-28"]);
    assert_eq!(shaped[1]["outputSchema"], body["outputSchema"]);
    assert_eq!(shaped[1]["inputSchema"], body["inputSchema"]);
    // Built from the database, the shape is the same.
    let database = app.beside(&refused_url()).await;
    assert_eq!(walk_mcp(&database, &path).await, shaped);
    // A patch back to what 2025-11-25 allows changes the claim.
    let patched = app
        .json(
            Method::PATCH,
            &format!("/tools/{id}"),
            &token,
            &json!({"outputSchema": {"type": "object"}, "inputSchema": {"type": "object"}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
    assert_mcp_tool(&patched.json());
    let shaped = walk_mcp(&app, &path).await;
    assert_eq!(claimed_revisions(&shaped[1]), ["2025-11-25", "2026-07-28"]);
}

#[tokio::test]
async fn mcp_pages_share_the_cache_entry_follow_cursors_and_answer_304_until_they_change() {
    let app = TestApp::start().await;
    let (token, owner) = app.user().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let tool = app
            .create(&token, &tool_body(&format!("mcp.page.{i}")))
            .await;
        ids.push(tool["id"].as_str().unwrap().to_owned());
    }
    let path = format!("/tools?ownerId={owner}&limit=2");
    let registry = app.get(&path).await;
    assert_eq!(registry.cache(), "MISS");
    let first = app.get(&mcp(&path)).await;
    assert_eq!(first.status, StatusCode::OK);
    // Both shapes come from one cache entry.
    assert_eq!(first.cache(), "HIT");
    let tag = first.header("etag").unwrap().to_owned();
    assert_ne!(Some(tag.as_str()), registry.header("etag"));
    let ttl = app.config.cache.mcp_list_ttl;
    assert!(ttl > Duration::ZERO && ttl <= app.config.cache.list_ttl);
    assert_eq!(first.json()["ttlMs"], json!(ttl.as_millis() as u64));
    let max_age = format!("public, max-age={}", ttl.as_secs());
    assert_eq!(first.header("cache-control"), Some(max_age.as_str()));
    assert_eq!(
        first.json()["nextCursor"],
        registry.json()["nextCursor"],
        "one cursor for both shapes"
    );

    let not_modified = get_with(&app, &mcp(&path), &tag).await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    assert!(not_modified.body.is_empty());
    assert_eq!(not_modified.header("etag"), Some(tag.as_str()));
    assert_eq!(not_modified.header("cache-control"), Some(max_age.as_str()));
    // The other shape's tag does not match this one.
    let registry_tag = registry.header("etag").unwrap();
    assert_eq!(
        get_with(&app, &mcp(&path), registry_tag).await.status,
        StatusCode::OK
    );
    assert_eq!(get_with(&app, &path, &tag).await.status, StatusCode::OK);

    // Cursors walk every tool once, in the order of the registry's pages.
    let shaped = walk_mcp(&app, &path).await;
    let listed = walk(&app, &path).await;
    assert_eq!(
        shaped.iter().map(as_registry_tool).collect::<Vec<_>>(),
        listed
    );
    assert_eq!(shaped.len(), 5);

    // A write that changes the page changes its tag.
    let patched = app
        .json(
            Method::PATCH,
            &format!("/tools/{}", listed[0]["id"].as_str().unwrap()),
            &token,
            &json!({"title": "changed"}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    let changed = get_with(&app, &mcp(&path), &tag).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_ne!(changed.header("etag"), Some(tag.as_str()));
    assert_eq!(changed.json()["tools"][0]["title"], "changed");

    // Deletions in a list of changes are no tools: they are listed beside them.
    let gone = app.delete(&format!("/tools/{}", ids[4]), &token).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let changes = format!("/tools?ownerId={owner}&updatedSince=2000-01-01T00:00:00Z&limit=100");
    let page = app.get(&mcp(&changes)).await.json();
    assert_valid(
        mcp_list_schema(),
        &page,
        "an MCP 2026-07-28 ListToolsResult",
    );
    assert_eq!(page["tools"].as_array().unwrap().len(), 4);
    let deleted = page["_meta"]["mcp-tool-registry/deleted"]
        .as_array()
        .unwrap();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["id"], ids[4].as_str());
    assert_eq!(deleted[0]["status"], "deleted");
}

#[tokio::test]
async fn mcp_pages_with_no_ttl_are_revalidated_and_a_bad_format_is_a_400() {
    let mut config = test_config(&redis_url());
    config.cache.mcp_list_ttl = Duration::ZERO;
    let app = TestApp::with_config(config).await;
    let page = app.get("/tools?format=mcp").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.json()["ttlMs"], 0);
    assert_eq!(page.header("cache-control"), Some("public, no-cache"));
    assert_valid(
        mcp_list_schema(),
        &page.json(),
        "an MCP 2026-07-28 ListToolsResult",
    );
    for bad in ["/tools?format=xml", "/tools?format=mcp&format=mcp"] {
        let refused = app.get(bad).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(refused.json()["errors"][0]["field"], "format");
    }
}
