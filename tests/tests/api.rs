//! Every route, rule and status code of the tool routes (`docs/api.md`), against the real
//! services.

use axum::body::Body;
use http::{Method, Request, StatusCode};
use integration_tests::{redis_url, test_config, tool_body, TestApp};
use serde_json::{json, Value};
use shared::domain::Role;
use std::collections::HashSet;
use std::time::Duration;

fn assert_problem(response: &integration_tests::TestResponse, status: StatusCode) -> Value {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json")
    );
    let problem = response.json();
    assert_eq!(problem["status"], status.as_u16());
    assert!(
        problem["type"].is_string()
            && problem["title"].is_string()
            && problem["detail"].is_string()
    );
    problem
}

fn error_fields(problem: &Value) -> Vec<String> {
    let mut fields: Vec<String> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    fields.sort();
    fields
}

#[tokio::test]
async fn create_then_get_with_etag_location_and_cache_header() {
    let app = TestApp::start().await;
    let (token, user) = app.user().await;
    let body = json!({
        "name": format!("Full_Tool.{}", uuid::Uuid::now_v7().simple()),
        "title": "A title", "description": "Does things", "category": "dev-tools",
        "tags": ["a", "b-2"], "version": "2.1.0",
        "inputSchema": {"type": "object", "properties": {"q": {"type": "string"}}},
        "outputSchema": {"type": "object"},
        "annotations": {"title": "T", "readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false},
        "status": "deprecated",
    });
    let created = app.json(Method::POST, "/tools", &token, &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let tool = created.json();
    let id = tool["id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
    assert_eq!(
        created.header("location"),
        Some(format!("/tools/{id}").as_str())
    );
    assert_eq!(created.header("etag"), Some("\"r1\""));
    for field in [
        "name",
        "title",
        "description",
        "category",
        "tags",
        "version",
        "inputSchema",
        "outputSchema",
        "annotations",
        "status",
    ] {
        assert_eq!(tool[field], body[field], "{field}");
    }
    assert_eq!(tool["ownerId"], user.to_string());
    assert_eq!(tool["revision"], 1);
    let created_at = tool["createdAt"].as_str().unwrap();
    assert_eq!(created_at.len(), "2026-11-23T22:00:00.123Z".len());
    assert!(created_at.ends_with('Z'));

    let read = app.get(&format!("/tools/{id}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.json(), tool);
    assert_eq!(read.header("etag"), Some("\"r1\""));
    assert!(["HIT", "MISS"].contains(&read.cache()));
    assert_eq!(read.header("content-type"), Some("application/json"));

    let not_modified = app
        .send(
            Request::get(format!("/tools/{id}"))
                .header("if-none-match", "\"r1\"")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    assert!(not_modified.body.is_empty());
    assert_eq!(not_modified.header("etag"), Some("\"r1\""));
    let other_tag = app
        .send(
            Request::get(format!("/tools/{id}"))
                .header("if-none-match", "\"r0\"")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(other_tag.status, StatusCode::OK);
}

#[tokio::test]
async fn defaults_are_filled_on_create() {
    let app = TestApp::start().await;
    let (token, _) = app.user().await;
    let tool = app.create(&token, &tool_body("defaults")).await;
    assert_eq!(tool["category"], "general");
    assert_eq!(tool["tags"], json!([]));
    assert_eq!(tool["version"], "1.0.0");
    assert_eq!(tool["status"], "active");
    // Optional fields that are not set are left out (MCP's Tool schema has no nulls).
    for absent in ["title", "outputSchema", "annotations"] {
        assert!(tool.get(absent).is_none(), "{absent} in {tool}");
    }
}

#[tokio::test]
async fn every_field_rule_is_enforced_with_422() {
    let app = TestApp::start().await;
    let (token, _) = app.user().await;
    let cases: Vec<(&str, Value)> = vec![
        ("name", json!("")),
        ("name", json!("has space")),
        ("name", json!("x".repeat(129))),
        ("name", json!(12)),
        ("title", json!("t".repeat(201))),
        ("description", json!("")),
        ("description", json!("d".repeat(4001))),
        ("category", json!("Upper")),
        ("category", json!("c".repeat(65))),
        ("tags", json!(["ok", "ok"])),
        ("tags", json!(["Bad"])),
        ("tags", json!(["t".repeat(33)])),
        (
            "tags",
            json!((0..21).map(|i| format!("t{i}")).collect::<Vec<_>>()),
        ),
        ("tags", json!("not-an-array")),
        ("version", json!("")),
        ("version", json!("v".repeat(65))),
        ("inputSchema", json!({"type": "string"})),
        ("inputSchema", json!([])),
        // Any root type is a result schema (MCP 2026-07-28), but not any JSON value.
        ("outputSchema", json!([{"type": "array"}])),
        ("outputSchema", json!({"type": "list"})),
        ("annotations", json!({"readOnlyHint": "yes"})),
        ("annotations", json!({"unknownKey": true})),
        ("status", json!("retired")),
        ("id", json!("00000000-0000-0000-0000-000000000000")),
        ("revision", json!(5)),
        ("ownerId", json!("x")),
        ("colour", json!("blue")),
    ];
    for (field, value) in cases {
        let mut body = tool_body("invalid");
        body[field] = value.clone();
        let response = app.json(Method::POST, "/tools", &token, &body).await;
        let problem = assert_problem(&response, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&problem), [field], "{field} = {value}");
    }
    // Limits are inclusive.
    let mut body = tool_body("limits");
    body["description"] = json!("d".repeat(4000));
    body["title"] = json!("t".repeat(200));
    body["tags"] = json!((0..20).map(|i| format!("t{i}")).collect::<Vec<_>>());
    app.create(&token, &body).await;
    // Missing required fields are all reported at once.
    let response = app.json(Method::POST, "/tools", &token, &json!({})).await;
    let problem = assert_problem(&response, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_fields(&problem),
        ["description", "inputSchema", "name"]
    );
    // Required fields cannot be nulled by a patch.
    let tool = app.create(&token, &tool_body("nulls")).await;
    let path = format!("/tools/{}", tool["id"].as_str().unwrap());
    let response = app
        .json(Method::PATCH, &path, &token, &json!({"name": null}))
        .await;
    assert_problem(&response, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn malformed_bodies_media_types_and_sizes() {
    let app = TestApp::start().await;
    let (token, _) = app.user().await;
    let raw = |content_type: &str, body: Vec<u8>| {
        Request::post("/tools")
            .header("content-type", content_type)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(body))
            .unwrap()
    };
    assert_problem(
        &app.send(raw("application/json", b"{not json".to_vec()))
            .await,
        StatusCode::BAD_REQUEST,
    );
    assert_problem(
        &app.send(raw("text/plain", b"{}".to_vec())).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    );
    let big = format!("{{\"description\": \"{}\"}}", "x".repeat(70 * 1024)).into_bytes();
    assert_problem(
        &app.send(raw("application/json", big)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    );
    let response = app
        .send(raw("application/json; charset=utf-8", b"[1, 2]".to_vec()))
        .await;
    assert_problem(&response, StatusCode::UNPROCESSABLE_ENTITY);
    let mut no_type = raw("application/json", b"{}".to_vec());
    no_type.headers_mut().remove("content-type");
    assert_problem(&app.send(no_type).await, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn writes_need_a_valid_bearer_token() {
    let app = TestApp::start().await;
    let body = tool_body("auth");
    let no_token = Request::post("/tools")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app.send(no_token).await;
    assert_problem(&response, StatusCode::UNAUTHORIZED);
    assert!(response
        .header("www-authenticate")
        .unwrap()
        .starts_with("Bearer"));
    for token in ["garbage", "a.b.c", ""] {
        let response = app.json(Method::POST, "/tools", token, &body).await;
        assert_problem(&response, StatusCode::UNAUTHORIZED);
    }
    // A token signed with a key nobody published.
    let other = shared::services::auth::TokenSigner::new(
        &shared::config::Secret::new("another-secret-of-at-least-32-bytes!!"),
        &app.config.auth,
    );
    let forged = other.issue(
        uuid::Uuid::now_v7(),
        uuid::Uuid::now_v7(),
        Role::Admin,
        shared::domain::Timestamp::now(),
    );
    assert_problem(
        &app.json(Method::POST, "/tools", &forged, &body).await,
        StatusCode::UNAUTHORIZED,
    );
    // Unauthenticated patch and delete.
    let (token, _) = app.user().await;
    let tool = app.create(&token, &body).await;
    let path = format!("/tools/{}", tool["id"].as_str().unwrap());
    assert_problem(
        &app.json(Method::PATCH, &path, "nope", &json!({"title": "x"}))
            .await,
        StatusCode::UNAUTHORIZED,
    );
    assert_problem(&app.delete(&path, "nope").await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn only_the_owner_or_an_admin_may_change_a_tool() {
    let app = TestApp::start().await;
    let (owner, _) = app.user().await;
    let (stranger, _) = app.user().await;
    let (admin, _) = app.user_with_role(Role::Admin).await;
    let tool = app.create(&owner, &tool_body("owned")).await;
    let path = format!("/tools/{}", tool["id"].as_str().unwrap());
    assert_problem(
        &app.json(Method::PATCH, &path, &stranger, &json!({"title": "mine"}))
            .await,
        StatusCode::FORBIDDEN,
    );
    assert_problem(&app.delete(&path, &stranger).await, StatusCode::FORBIDDEN);
    let patched = app
        .json(Method::PATCH, &path, &admin, &json!({"title": "by admin"}))
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.json()["ownerId"], tool["ownerId"]);
    assert_eq!(
        app.delete(&path, &admin).await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn patch_replaces_present_fields_clears_nulls_and_bumps_revision() {
    let app = TestApp::start().await;
    let (token, _) = app.user().await;
    let mut body = tool_body("patch");
    body["title"] = json!("Old");
    body["tags"] = json!(["one"]);
    let tool = app.create(&token, &body).await;
    let path = format!("/tools/{}", tool["id"].as_str().unwrap());
    tokio::time::sleep(Duration::from_millis(2)).await;
    let response = app
        .json(
            Method::PATCH,
            &path,
            &token,
            &json!({"title": null, "tags": ["two", "three"], "status": "deprecated"}),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.header("etag"), Some("\"r2\""));
    let patched = response.json();
    assert!(patched.get("title").is_none(), "{patched}");
    assert_eq!(patched["tags"], json!(["two", "three"]));
    assert_eq!(patched["status"], "deprecated");
    assert_eq!(patched["description"], tool["description"]);
    assert_eq!(patched["revision"], 2);
    assert_eq!(patched["createdAt"], tool["createdAt"]);
    assert!(patched["updatedAt"].as_str() > tool["updatedAt"].as_str());
    assert_eq!(app.get(&path).await.json(), patched);
}

#[tokio::test]
async fn a_patch_that_changes_nothing_writes_nothing_and_retires_no_page() {
    let app = TestApp::start().await;
    let (token, owner) = app.user().await;
    let mut body = tool_body("noop");
    body["tags"] = json!(["one"]);
    let tool = app.create(&token, &body).await;
    let path = format!("/tools/{}", tool["id"].as_str().unwrap());
    let list = format!("/tools?ownerId={owner}");
    assert_eq!(app.get(&list).await.cache(), "MISS");
    for patch in [
        json!({}),
        json!({"tags": ["one"], "description": tool["description"]}),
    ] {
        let response = app.json(Method::PATCH, &path, &token, &patch).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        assert_eq!(response.header("etag"), Some("\"r1\""), "{patch}");
        assert_eq!(response.json(), tool, "{patch}");
        assert_eq!(app.get(&list).await.cache(), "HIT", "{patch}");
    }
    let response = app
        .json(Method::PATCH, &path, &token, &json!({"tags": ["two"]}))
        .await;
    assert_eq!(response.header("etag"), Some("\"r2\""));
    assert_eq!(app.get(&list).await.cache(), "MISS");
}

#[tokio::test]
async fn if_match_guards_updates_with_412() {
    let app = TestApp::start().await;
    let (token, _) = app.user().await;
    let tool = app.create(&token, &tool_body("ifmatch")).await;
    let path = format!("/tools/{}", tool["id"].as_str().unwrap());
    let patch = |tag: &'static str, title: &'static str| {
        Request::patch(path.clone())
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .header("if-match", tag)
            .body(Body::from(json!({"title": title}).to_string()))
            .unwrap()
    };
    assert_eq!(
        app.send(patch("\"r1\"", "first")).await.status,
        StatusCode::OK
    );
    assert_problem(
        &app.send(patch("\"r1\"", "lost update")).await,
        StatusCode::PRECONDITION_FAILED,
    );
    assert_eq!(app.get(&path).await.json()["title"], "first");
}

#[tokio::test]
async fn names_are_unique_and_case_sensitive() {
    let app = TestApp::start().await;
    let (token, _) = app.user().await;
    let body = tool_body("Unique");
    app.create(&token, &body).await;
    let (other_user, _) = app.user().await;
    assert_problem(
        &app.json(Method::POST, "/tools", &other_user, &body).await,
        StatusCode::CONFLICT,
    );
    let mut lower = body.clone();
    lower["name"] = json!(body["name"].as_str().unwrap().to_lowercase());
    app.create(&token, &lower).await;
    let other = app.create(&token, &tool_body("rename")).await;
    let path = format!("/tools/{}", other["id"].as_str().unwrap());
    assert_problem(
        &app.json(Method::PATCH, &path, &token, &json!({"name": body["name"]}))
            .await,
        StatusCode::CONFLICT,
    );
}

#[tokio::test]
async fn absent_tools_and_bad_ids() {
    let app = TestApp::start().await;
    let (token, _) = app.user().await;
    let missing = format!("/tools/{}", uuid::Uuid::now_v7());
    assert_problem(&app.get(&missing).await, StatusCode::NOT_FOUND);
    assert_problem(
        &app.json(Method::PATCH, &missing, &token, &json!({"title": "x"}))
            .await,
        StatusCode::NOT_FOUND,
    );
    assert_problem(&app.delete(&missing, &token).await, StatusCode::NOT_FOUND);
    assert_problem(&app.get("/tools/not-a-uuid").await, StatusCode::BAD_REQUEST);
    assert_problem(
        &app.delete("/tools/123", &token).await,
        StatusCode::BAD_REQUEST,
    );
    let patch = app
        .json(
            Method::PATCH,
            "/tools/not-a-uuid",
            &token,
            &json!({"title": "x"}),
        )
        .await;
    assert_problem(&patch, StatusCode::BAD_REQUEST);
    assert!(patch.json()["detail"]
        .as_str()
        .unwrap()
        .contains("not a UUID"));
    // The body is checked before the path id, as on every route with a body.
    let text = Request::patch("/tools/not-a-uuid")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "text/plain")
        .body(Body::from("title"))
        .unwrap();
    assert_problem(&app.send(text).await, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_problem(&app.get("/nowhere").await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn delete_removes_the_tool_from_every_read() {
    let app = TestApp::start().await;
    let (token, owner) = app.user().await;
    let tool = app.create(&token, &tool_body("gone")).await;
    let path = format!("/tools/{}", tool["id"].as_str().unwrap());
    let list = format!("/tools?ownerId={owner}");
    assert_eq!(app.get(&path).await.status, StatusCode::OK);
    assert_eq!(
        app.get(&list).await.json()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(app.get(&list).await.cache(), "HIT");
    assert_eq!(
        app.delete(&path, &token).await.status,
        StatusCode::NO_CONTENT
    );
    assert_problem(&app.get(&path).await, StatusCode::GONE);
    assert_eq!(app.get(&list).await.json()["items"], json!([]));
    assert_problem(&app.delete(&path, &token).await, StatusCode::NOT_FOUND);
}

/// Drops `tool`'s cache entry, as if another Redis node had never held it.
async fn evict(app: &TestApp, tool: &Value) {
    let key = app
        .tools
        .cache()
        .keys()
        .tool(tool["id"].as_str().unwrap().parse().unwrap());
    let _: i64 = redis::cmd("DEL")
        .arg(key)
        .query_async(&mut app.redis().await)
        .await
        .unwrap();
}

/// A deleted tool leaves a tombstone: its id answers 410 (cached like an absence, on every
/// instance) until the retention, then 404 and the sweeper prunes it; its name is free at once.
#[tokio::test]
async fn a_deleted_tool_is_gone_until_its_tombstone_expires_and_its_name_is_free() {
    let mut config = test_config(&redis_url());
    config.database.tombstone_retention = Duration::from_secs(2);
    let app = TestApp::with_config(config).await;
    let (token, _) = app.user().await;
    let body = tool_body("tombstoned");
    let tool = app.create(&token, &body).await;
    let path = format!("/tools/{}", tool["id"].as_str().unwrap());
    assert_eq!(
        app.delete(&path, &token).await.status,
        StatusCode::NO_CONTENT
    );
    let gone = app.get(&path).await;
    assert_problem(&gone, StatusCode::GONE);
    assert!(gone.json()["type"].as_str().unwrap().ends_with("/gone"));
    // Another instance reads the database (the writer's deletion is in Redis: evicted here).
    evict(&app, &tool).await;
    let instance = app.instance();
    let statements = app.statements();
    assert_problem(&instance.get(&path).await, StatusCode::GONE);
    assert_eq!(
        app.statements() - statements,
        2,
        "the tool, then its tombstone"
    );
    assert_problem(&instance.get(&path).await, StatusCode::GONE);
    assert_eq!(
        app.statements() - statements,
        2,
        "the second read is the cache's"
    );
    // The name is free again: a new tool with it is a new id.
    let again = app.create(&token, &body).await;
    assert_ne!(again["id"], tool["id"]);
    assert_eq!(again["revision"], 1);
    // Past the retention: 404, and the sweeper prunes the tombstone.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let fresh = app.instance();
    evict(&app, &tool).await;
    assert_problem(&fresh.get(&path).await, StatusCode::NOT_FOUND);
    let report = app.short_sweep().await;
    assert_eq!(report.pruned_tombstones, 1, "{report:?}");
}

#[tokio::test]
async fn list_filters_search_and_query_validation() {
    let app = TestApp::start().await;
    let (token, owner) = app.user().await;
    let make = |name: &str, title: Option<&str>, category: &str, tags: Value, status: &str| {
        json!({"name": format!("{name}.{}", uuid::Uuid::now_v7().simple()), "title": title,
               "description": format!("The {name} tool"), "category": category, "tags": tags,
               "status": status, "inputSchema": {"type": "object"}})
    };
    app.create(
        &token,
        &make(
            "alpha",
            Some("Finds 100% of things_"),
            "search",
            json!(["web", "fast"]),
            "active",
        ),
    )
    .await;
    app.create(
        &token,
        &make("beta", None, "search", json!(["web"]), "deprecated"),
    )
    .await;
    app.create(
        &token,
        &make(
            "gamma",
            Some("GAMMA ray"),
            "media",
            json!(["images"]),
            "active",
        ),
    )
    .await;
    let names = |query: &str| {
        let app = &app;
        let query = format!("/tools?ownerId={owner}&{query}");
        async move {
            let response = app.get(&query).await;
            assert_eq!(
                response.status,
                StatusCode::OK,
                "{query}: {}",
                response.text()
            );
            response.json()["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    t["name"]
                        .as_str()
                        .unwrap()
                        .split('.')
                        .next()
                        .unwrap()
                        .to_owned()
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names("category=search").await, ["alpha", "beta"]);
    assert_eq!(names("tag=web").await, ["alpha", "beta"]);
    assert_eq!(names("tag=images").await, ["gamma"]);
    assert_eq!(names("status=deprecated").await, ["beta"]);
    assert_eq!(names("q=gamma%20RAY").await, ["gamma"]);
    assert_eq!(names("q=100%25").await, ["alpha"], "the word 100");
    assert_eq!(
        names("q=thin").await,
        ["alpha"],
        "the last word is a prefix"
    );
    assert_eq!(
        names("q=s_").await,
        Vec::<String>::new(),
        "no word of two letters"
    );
    assert_eq!(
        names("q=THE%20BETA").await,
        ["beta"],
        "description, any case"
    );
    assert_eq!(names("sort=-name").await, ["gamma", "beta", "alpha"]);
    assert_eq!(names("sort=createdAt").await, ["alpha", "beta", "gamma"]);
    assert_eq!(names("sort=-createdAt&limit=2").await, ["gamma", "beta"]);
    for bad in [
        "page=2",
        "limit=0",
        "limit=abc",
        "sort=size",
        "status=gone",
        "ownerId=nope",
        "category=UP",
        "tag=a&tag=b",
        "cursor=forged.cursor",
    ] {
        let response = app.get(&format!("/tools?{bad}")).await;
        assert_problem(&response, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn pagination_yields_every_tool_exactly_once_in_every_order() {
    let app = TestApp::start().await;
    let (token, owner) = app.user().await;
    let mut expected = HashSet::new();
    for i in 0..23 {
        let mut body = tool_body(&format!("page{i:02}"));
        body["category"] = json!(if i % 2 == 0 { "even" } else { "odd" });
        expected.insert(
            app.create(&token, &body).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    for sort in [
        "name",
        "-name",
        "createdAt",
        "-createdAt",
        "updatedAt",
        "-updatedAt",
    ] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/tools?ownerId={owner}&sort={sort}&limit=5");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = app.get(&path).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.text());
            let page = page.json();
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= 5);
            seen.extend(items.iter().map(|t| t["id"].as_str().unwrap().to_owned()));
            match page["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 23, "{sort}: no duplicates");
        assert_eq!(
            seen.iter().cloned().collect::<HashSet<_>>(),
            expected,
            "{sort}"
        );
        let first_page = app
            .get(&format!("/tools?ownerId={owner}&sort={sort}&limit=5"))
            .await
            .json();
        let cursor = first_page["nextCursor"].as_str().unwrap();
        // A cursor belongs to its query: reused on another filter it is refused.
        let foreign = app
            .get(&format!(
                "/tools?ownerId={owner}&sort={sort}&category=even&cursor={cursor}"
            ))
            .await;
        assert_problem(&foreign, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn equivalent_list_queries_share_one_cache_entry() {
    let app = TestApp::start().await;
    let (token, owner) = app.user().await;
    app.create(&token, &tool_body("equiv")).await;
    let first = app
        .get(&format!("/tools?ownerId={owner}&category=general"))
        .await;
    assert_eq!(first.cache(), "MISS");
    let before = app.statements();
    let second = app
        .get(&format!(
            "/tools?category=general&limit=20&sort=name&ownerId={owner}"
        ))
        .await;
    assert_eq!(second.cache(), "HIT");
    assert_eq!(second.body, first.body);
    assert_eq!(
        app.statements(),
        before,
        "a list hit makes no Data API call"
    );
}

#[tokio::test]
async fn database_outage_is_a_503_with_retry_after_when_the_cache_cannot_answer() {
    let app = TestApp::start().await;
    let (token, _) = app.user().await;
    let tool = app.create(&token, &tool_body("outage")).await;
    let path = format!("/tools/{}", tool["id"].as_str().unwrap());
    assert_eq!(app.get(&path).await.cache(), "HIT");
    app.emulator.set_unavailable(true);
    // The cache still answers what it holds...
    assert_eq!(app.get(&path).await.status, StatusCode::OK);
    // ...and what it does not hold is a 503, not a 500.
    let missing = app.get(&format!("/tools/{}", uuid::Uuid::now_v7())).await;
    let problem = assert_problem(&missing, StatusCode::SERVICE_UNAVAILABLE);
    assert!(missing.header("retry-after").is_some());
    assert!(!problem["detail"].as_str().unwrap().contains("Exception"));
    let write = app
        .json(Method::POST, "/tools", &token, &tool_body("outage"))
        .await;
    assert_problem(&write, StatusCode::SERVICE_UNAVAILABLE);
    app.emulator.set_unavailable(false);
    assert_eq!(
        app.json(Method::POST, "/tools", &token, &tool_body("outage"))
            .await
            .status,
        StatusCode::CREATED
    );
}
