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
    app.db
        .execute(
            "DELETE FROM tools WHERE name = :name",
            vec![param("name", "event.tool")],
        )
        .await
        .unwrap();
    app.db
        .execute(
            "DELETE FROM users WHERE email_normalized = :email",
            vec![param("email", "event-user@example.com")],
        )
        .await
        .unwrap();
    let expected = [
        ("tools-list.json", StatusCode::OK),
        ("tools-list-bad-param.json", StatusCode::BAD_REQUEST),
        ("tools-get-bad-id.json", StatusCode::BAD_REQUEST),
        ("tools-get-missing.json", StatusCode::NOT_FOUND),
        ("tools-create.json", StatusCode::CREATED),
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
    ];
    let dir = format!("{}/../events", env!("CARGO_MANIFEST_DIR"));
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = expected.iter().map(|(f, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "every event in events/ is exercised here");
    for (file, status) in expected {
        assert_eq!(status_of(&app, file, &token).await, status, "{file}");
    }
    // Replayed, the good events meet their own results.
    assert_eq!(
        status_of(&app, "tools-create.json", &token).await,
        StatusCode::CONFLICT
    );
    assert_eq!(
        status_of(&app, "auth-register.json", &token).await,
        StatusCode::CONFLICT
    );
}
