//! No token, password or secret appears in the logs of a full register/login/refresh/logout run,
//! captured at the most verbose level.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use http::{Method, Request, StatusCode};
use integration_tests::{json_request, TestApp};
use serde_json::{json, Value};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn post(path: &str, body: Value, bearer: Option<&str>) -> Request<Body> {
    json_request(Method::POST, path, &body, bearer)
}

#[tokio::test]
async fn a_full_auth_run_logs_no_token_password_or_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .json()
        .with_writer(move || writer.clone())
        .init();

    let app = TestApp::start().await;
    let email = format!("logs-{}@example.com", uuid::Uuid::now_v7().simple());
    let password = "a very particular passphrase 7431";
    assert_eq!(
        app.send(post(
            "/auth/register",
            json!({"email": email, "password": password}),
            None
        ))
        .await
        .status,
        StatusCode::CREATED
    );
    let login = app
        .send(post(
            "/auth/login",
            json!({"email": email, "password": password}),
            None,
        ))
        .await;
    assert_eq!(login.status, StatusCode::OK);
    let first = login.json();
    let bad = app
        .send(post(
            "/auth/login",
            json!({"email": email, "password": "wrong passphrase 99"}),
            None,
        ))
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    let refreshed = app
        .send(post(
            "/auth/refresh",
            json!({"refreshToken": first["refreshToken"]}),
            None,
        ))
        .await;
    assert_eq!(refreshed.status, StatusCode::OK);
    let second = refreshed.json();
    let access = second["accessToken"].as_str().unwrap();
    let out = app
        .send(post(
            "/auth/logout",
            json!({"refreshToken": second["refreshToken"]}),
            Some(access),
        ))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    // A reuse (logged as a warning) must not print the token either.
    let reuse = app
        .send(post(
            "/auth/refresh",
            json!({"refreshToken": first["refreshToken"]}),
            None,
        ))
        .await;
    assert_eq!(reuse.status, StatusCode::UNAUTHORIZED);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("\"route\":\"/auth/login\""),
        "the run was logged at all"
    );
    let secret = |s: &shared::config::Secret| String::from_utf8(s.expose().to_vec()).unwrap();
    let needles = [
        ("password", password.to_owned()),
        ("wrong password", "wrong passphrase 99".to_owned()),
        ("signing secret", secret(&app.config.auth.signing_secret)),
        ("refresh secret", secret(&app.config.auth.refresh_secret)),
        (
            "first access token",
            first["accessToken"].as_str().unwrap().to_owned(),
        ),
        (
            "first refresh token",
            first["refreshToken"].as_str().unwrap().to_owned(),
        ),
        ("second access token", access.to_owned()),
        (
            "second refresh token",
            second["refreshToken"].as_str().unwrap().to_owned(),
        ),
    ];
    for (what, needle) in needles {
        assert!(!logs.contains(&needle), "the {what} appears in the logs");
        // Token signatures alone would be enough to matter.
        if let Some(signature) = needle.rsplit('.').next().filter(|s| s.len() > 20) {
            assert!(
                !logs.contains(signature),
                "part of the {what} appears in the logs"
            );
        }
    }
}
