//! Every request ends before its function: a request still running at `REQUEST_DEADLINE_MS` is
//! answered 503 with `Retry-After`, whatever it was waiting for (the session check, an auth
//! chain, a transaction), and a transaction it left open is rolled back at once, not at the Data
//! API's idle timeout.

use std::time::Duration;

use axum::body::Body;
use data_api_emulator::{FaultRule, Operation};
use http::{Method, Request, StatusCode};
use integration_tests::{json_request, redis_url, test_config, tool_body, TestApp, TestResponse};
use serde_json::{json, Value};
use tokio::time::Instant;

const DEADLINE: Duration = Duration::from_millis(1_500);

/// A registry whose requests end by [`DEADLINE`] (the database budget a little before).
async fn app() -> TestApp {
    let mut config = test_config(&redis_url());
    config.request_deadline = DEADLINE;
    config.database.budget.request_budget = Duration::from_millis(1_000);
    TestApp::with_config(config).await
}

async fn auth(app: &TestApp, path: &str, body: &Value) -> TestResponse {
    app.send(json_request(Method::POST, path, body, None)).await
}

/// `request`'s answer and how long it took.
async fn timed(
    request: impl std::future::Future<Output = TestResponse>,
) -> (TestResponse, Duration) {
    let started = Instant::now();
    let response = request.await;
    (response, started.elapsed())
}

fn assert_cut_off(what: &str, (response, took): &(TestResponse, Duration)) {
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE, "{what}");
    assert!(response.header("retry-after").is_some(), "{what}");
    assert!(
        *took < DEADLINE + Duration::from_millis(700),
        "{what} took {took:?}"
    );
}

#[tokio::test]
async fn a_slow_database_makes_login_refresh_and_a_write_answer_503_by_the_deadline() {
    let app = app().await;
    let email = format!("slow-{}@example.com", uuid::Uuid::now_v7().simple());
    let credentials = json!({"email": email, "password": "correct horse battery"});
    assert_eq!(
        auth(&app, "/auth/register", &credentials).await.status,
        StatusCode::CREATED
    );
    let login = auth(&app, "/auth/login", &credentials).await.json();
    let token = login["accessToken"].as_str().unwrap().to_owned();
    let refresh = json!({"refreshToken": login["refreshToken"]});

    // Every Data API call now takes longer than the whole deadline.
    app.emulator.set_latency(Duration::from_secs(3));
    assert_cut_off(
        "login",
        &timed(auth(&app, "/auth/login", &credentials)).await,
    );
    assert_cut_off(
        "refresh",
        &timed(auth(&app, "/auth/refresh", &refresh)).await,
    );
    let create = json_request(Method::POST, "/tools", &tool_body("slow"), Some(&token));
    assert_cut_off("a write", &timed(app.send(create)).await);
    app.emulator.set_latency(Duration::ZERO);
}

#[tokio::test]
async fn a_refresh_cut_off_mid_transaction_leaves_the_session_usable() {
    let app = app().await;
    let email = format!("cut-{}@example.com", uuid::Uuid::now_v7().simple());
    let credentials = json!({"email": email, "password": "correct horse battery"});
    auth(&app, "/auth/register", &credentials).await;
    let login = auth(&app, "/auth/login", &credentials).await.json();
    let refresh = json!({"refreshToken": login["refreshToken"]});

    // The rotation's first update (its token row locked `FOR UPDATE` since the statement
    // before) answers only after the deadline: the request is cut off with the transaction open.
    app.emulator.add_fault(FaultRule::delay(
        Operation::Execute,
        Some("UPDATE"),
        Duration::from_millis(2_000),
        1,
    ));
    assert_cut_off(
        "refresh",
        &timed(auth(&app, "/auth/refresh", &refresh)).await,
    );
    tokio::time::sleep(Duration::from_millis(1_000)).await;

    // The client retries: the rotation never committed, its lock is gone, so the same token
    // rotates now, promptly (not after the Data API's idle timeout, nor a lock wait).
    let (retried, took) = timed(auth(&app, "/auth/refresh", &refresh)).await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.text());
    assert!(took < Duration::from_secs(1), "{took:?}");
    let session = app
        .send(
            Request::get("/auth/session")
                .header(
                    "authorization",
                    format!("Bearer {}", retried.json()["accessToken"].as_str().unwrap()),
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(session.status, StatusCode::OK);
}
