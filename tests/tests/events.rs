//! The API Gateway HTTP API (v2) events in `events/` go through lambda_http's event conversion and
//! the function routers, exactly as on Lambda, and get the documented status. Events that need a
//! token carry the placeholder `REPLACE_WITH_ACCESS_TOKEN`, replaced here by a live one.

use http::StatusCode;
use integration_tests::TestApp;
use shared::store::param;
use tower::ServiceExt;

async fn status_of(app: &TestApp, file: &str, token: &str) -> StatusCode {
    let path = format!("{}/../events/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .replace("REPLACE_WITH_ACCESS_TOKEN", token);
    let request = lambda_http::request::from_str(&text).expect("a valid API Gateway event");
    let router = if request.uri().path().starts_with("/auth/") {
        &app.auth_router
    } else if request.method() == http::Method::GET {
        &app.read
    } else {
        &app.write
    };
    router.clone().oneshot(request).await.unwrap().status()
}

#[tokio::test]
async fn every_event_gets_its_documented_status() {
    let app = TestApp::start().await;
    let (token, _) = app.user().await;
    // The good events create fixed names: clear them so each run starts alike.
    for name in ["event.tool", "event.keyed.tool"] {
        app.db
            .execute(
                "DELETE FROM tools WHERE name = :name",
                vec![param("name", name)],
            )
            .await
            .unwrap();
    }
    app.db
        .execute(
            "DELETE FROM users WHERE email_normalized = :email",
            vec![param("email", "event-user@example.com")],
        )
        .await
        .unwrap();
    let expected = [
        ("tools-list.json", StatusCode::OK),
        ("tools-list-updated-since.json", StatusCode::OK),
        // `If-None-Match: *` matches any current page.
        ("tools-list-not-modified.json", StatusCode::NOT_MODIFIED),
        ("tools-list-bad-param.json", StatusCode::BAD_REQUEST),
        // A page as an MCP ListToolsResult.
        ("tools-list-mcp.json", StatusCode::OK),
        // A word search, ranked by relevance, within a category.
        ("tools-search.json", StatusCode::OK),
        ("tools-get-bad-id.json", StatusCode::BAD_REQUEST),
        ("tools-get-missing.json", StatusCode::NOT_FOUND),
        ("tools-create.json", StatusCode::CREATED),
        // With an Idempotency-Key (run again below: the repeat answers the same 201).
        ("tools-create-keyed.json", StatusCode::CREATED),
        ("tools-create-no-token.json", StatusCode::UNAUTHORIZED),
        // API Gateway base64-encodes a body that is not UTF-8: still a plain 400.
        ("tools-create-binary-body.json", StatusCode::BAD_REQUEST),
        ("tools-patch-no-token.json", StatusCode::UNAUTHORIZED),
        ("tools-delete-no-token.json", StatusCode::UNAUTHORIZED),
        ("auth-register.json", StatusCode::CREATED),
        (
            "auth-register-invalid.json",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("auth-login-wrong-password.json", StatusCode::UNAUTHORIZED),
        ("auth-refresh-unknown-token.json", StatusCode::UNAUTHORIZED),
        ("auth-logout-no-token.json", StatusCode::UNAUTHORIZED),
        ("auth-session-no-token.json", StatusCode::UNAUTHORIZED),
        ("auth-sessions-no-token.json", StatusCode::UNAUTHORIZED),
    ];
    let dir = format!("{}/../events", env!("CARGO_MANIFEST_DIR"));
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        // The sweeper's and the schema migrator's events are not API events (below, and
        // schema_migrator.rs).
        .filter(|n| n.ends_with(".json") && !n.starts_with("sweeper-") && !n.starts_with("schema-"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = expected.iter().map(|(f, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "every event in events/ is exercised here");
    for (file, status) in expected {
        assert_eq!(status_of(&app, file, &token).await, status, "{file}");
    }
    // Replayed, the good events meet their own results; the keyed one answers its first again.
    assert_eq!(
        status_of(&app, "tools-create.json", &token).await,
        StatusCode::CONFLICT
    );
    assert_eq!(
        status_of(&app, "tools-create-keyed.json", &token).await,
        StatusCode::CREATED
    );
    assert_eq!(
        status_of(&app, "auth-register.json", &token).await,
        StatusCode::CONFLICT
    );
}

/// The scheduled event of the cache sweeper: what EventBridge Scheduler sends (the function takes
/// any JSON), and a run bounded by the invocation's deadline that applies what is pending.
#[tokio::test]
async fn the_sweeper_schedule_event_runs_a_bounded_sweep() {
    let path = format!(
        "{}/../events/sweeper-schedule.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("JSON");
    assert_eq!(event["detail-type"], "Scheduled Event");

    let app = TestApp::start().await;
    let (token, _) = app.user().await;
    let (actor, _) = app
        .auth
        .authentication()
        .authenticate(&token)
        .await
        .unwrap();
    let tool = app
        .create(&token, &integration_tests::tool_body("sweep"))
        .await;
    let id = tool["id"].as_str().unwrap().parse().unwrap();
    // A writer that died after its commit leaves its invalidation pending.
    let _ = app
        .instance()
        .write_tools
        .commit_delete(&actor, id, None)
        .await
        .unwrap();
    assert_eq!(app.pending_invalidations().await, 1);
    let started = std::time::Instant::now();
    // 7 s before the deadline: the run stops polling 5 s before it, after about 2 s.
    let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(7);
    let report = app.sweeper().run(deadline).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(report.rounds >= 2, "{report:?}");
    assert_eq!((report.applied, report.failures), (1, 0), "{report:?}");
    assert_eq!(app.pending_invalidations().await, 0);
    assert_eq!(
        app.get(&format!("/tools/{id}")).await.status,
        StatusCode::GONE
    );
}
