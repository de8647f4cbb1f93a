//! The API Gateway HTTP API (v2) events in `events/` go through lambda_http's event conversion and
//! the function routers, exactly as on Lambda, and get the documented status.

use http::StatusCode;
use integration_tests::TestApp;
use tower::ServiceExt;

async fn status_of(app: &TestApp, file: &str) -> StatusCode {
    let path = format!("{}/../events/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
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
    let expected = [
        ("tools-list.json", StatusCode::OK),
        ("tools-list-bad-param.json", StatusCode::BAD_REQUEST),
        ("tools-get-bad-id.json", StatusCode::BAD_REQUEST),
        ("tools-create-no-token.json", StatusCode::UNAUTHORIZED),
        (
            "auth-register-invalid.json",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("auth-login-wrong-password.json", StatusCode::UNAUTHORIZED),
        ("auth-refresh-unknown-token.json", StatusCode::UNAUTHORIZED),
        ("auth-logout-no-token.json", StatusCode::UNAUTHORIZED),
        ("auth-session-no-token.json", StatusCode::UNAUTHORIZED),
    ];
    // The register event's email is fixed: the first run creates it, later runs find it taken.
    let registered = status_of(&app, "auth-register.json").await;
    assert!(
        [StatusCode::CREATED, StatusCode::CONFLICT].contains(&registered),
        "{registered}"
    );
    assert_eq!(
        status_of(&app, "auth-register.json").await,
        StatusCode::CONFLICT
    );
    let dir = format!("{}/../events", env!("CARGO_MANIFEST_DIR"));
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = expected.iter().map(|(f, _)| f.to_string()).collect();
    listed.push("auth-register.json".into());
    listed.sort();
    assert_eq!(on_disk, listed, "every event in events/ is exercised here");
    for (file, status) in expected {
        assert_eq!(status_of(&app, file).await, status, "{file}");
    }
}
