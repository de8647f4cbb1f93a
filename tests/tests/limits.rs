//! One client cannot hurt the others: lists of the largest tools the API accepts stay answerable
//! (the Data API's 1 MiB result limit, Lambda's 6 MB response limit), against the real services.

use std::collections::HashSet;

use http::{Method, StatusCode};
use integration_tests::{tool_body, TestApp};
use serde_json::{json, Value};
use shared::http::MAX_BODY_BYTES;

/// A valid tool body of exactly `bytes` bytes, most of them in its input schema (with quotes and
/// backslashes, which every JSON layer escapes again).
fn fat_tool(prefix: &str, bytes: usize) -> Value {
    let mut body = tool_body(prefix);
    body["inputSchema"] = json!({
        "type": "object",
        "properties": {"text": {"type": "string", "description": ""}},
    });
    let base = body.to_string().len();
    let unit = "say \"hi\" \\ ";
    let encoded_unit = serde_json::to_string(unit).unwrap().len() - 2;
    let fill = bytes - base;
    let mut description = unit.repeat(fill / encoded_unit);
    description.push_str(&"x".repeat(fill % encoded_unit));
    body["inputSchema"]["properties"]["text"]["description"] = json!(description);
    assert_eq!(body.to_string().len(), bytes);
    body
}

/// Follows `nextCursor` from `first` to the end; returns the ids in order and the pages' sizes.
async fn walk(app: &TestApp, first: &str) -> (Vec<String>, Vec<(usize, usize)>) {
    let mut ids = Vec::new();
    let mut pages = Vec::new();
    let mut path = first.to_owned();
    loop {
        let page = app.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.text());
        let body = page.json();
        let items = body["items"].as_array().unwrap();
        pages.push((items.len(), page.body.len()));
        ids.extend(items.iter().map(|t| t["id"].as_str().unwrap().to_owned()));
        match body["nextCursor"].as_str() {
            Some(cursor) => path = format!("{first}&cursor={cursor}"),
            None => return (ids, pages),
        }
    }
}

#[tokio::test]
async fn lists_of_the_largest_tools_answer_and_cursors_walk_them_all() {
    let app = TestApp::start().await;
    let (token, owner) = app.user().await;
    let mut expected = HashSet::new();
    // 18 tools of ~60 KB: together past the Data API's 1 MiB, as one page of `limit=100`.
    for i in 0..18 {
        let tool = app
            .create(&token, &fat_tool(&format!("fat{i:02}"), 60_000))
            .await;
        expected.insert(tool["id"].as_str().unwrap().to_owned());
    }
    // And one of the largest body the API accepts.
    let largest = app
        .json(
            Method::POST,
            "/tools",
            &token,
            &fat_tool("largest", MAX_BODY_BYTES),
        )
        .await;
    assert_eq!(largest.status, StatusCode::CREATED, "{}", largest.text());
    expected.insert(largest.json()["id"].as_str().unwrap().to_owned());
    let too_large = app
        .json(
            Method::POST,
            "/tools",
            &token,
            &fat_tool("too-large", MAX_BODY_BYTES + 1),
        )
        .await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);

    for sort in [
        "name",
        "-name",
        "createdAt",
        "-createdAt",
        "updatedAt",
        "-updatedAt",
    ] {
        for limit in ["", "&limit=100", "&limit=3"] {
            let first = format!("/tools?ownerId={owner}&sort={sort}{limit}");
            let (ids, pages) = walk(&app, &first).await;
            assert_eq!(ids.len(), expected.len(), "{first}: each tool once");
            assert_eq!(ids.iter().cloned().collect::<HashSet<_>>(), expected);
            // Cut by size, not by count: no page near the Data API's or Lambda's limits.
            for (count, bytes) in &pages {
                assert!(*count >= 1 && *bytes < 1024 * 1024, "{first}: {pages:?}");
            }
            if limit != "&limit=3" {
                assert!(pages.len() > 1, "{first}: one page of 1.1 MB: {pages:?}");
            }
        }
    }
    // The default listing (no filter) and a search answer too, from the database and the cache.
    for path in ["/tools", "/tools?limit=100", "/tools?q=fat&limit=100"] {
        for _ in 0..2 {
            let page = app.get(path).await;
            assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.text());
        }
    }
}
