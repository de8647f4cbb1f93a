//! What one client may cost the database: a list statement stopped at its time limit is a 422
//! that the cache remembers, and list misses from one address are limited (429) while other
//! clients' misses and everybody's hits go on.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use data_api_emulator::FaultRule;
use integration_tests::{redis_url, refused_url, test_config, tool_body, TestApp, TestResponse};

/// A `GET` of `path` from `address` (as API Gateway's first `X-Forwarded-For` hop).
fn from(path: &str, address: &str) -> Request<Body> {
    Request::get(path)
        .header("x-forwarded-for", address)
        .body(Body::empty())
        .unwrap()
}

async fn get_from(app: &TestApp, path: &str, address: &str) -> TestResponse {
    app.send(from(path, address)).await
}

#[tokio::test]
async fn a_statement_past_its_time_limit_is_a_422_and_its_repeat_costs_nothing() {
    let mut config = test_config(&redis_url());
    config.database.list_time_limit = Duration::from_millis(200);
    let app = TestApp::with_config(config).await;
    let (token, _) = app.user().await;
    app.create(&token, &tool_body("bounded")).await;
    // The database works 1.5 s on the next SELECTs; the statement's limit stops it at 200 ms.
    app.emulator
        .add_fault(FaultRule::stall_selects(Duration::from_millis(1500), 5));
    let started = std::time::Instant::now();
    let response = app.get("/tools?category=testing").await;
    assert_eq!(
        response.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        response.text()
    );
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "stopped by the database, not waited out: {:?}",
        started.elapsed()
    );
    let problem = response.json();
    assert_eq!(
        problem["type"],
        "https://mcp-registry.dev/problems/query-too-broad"
    );
    assert!(
        problem["detail"].as_str().unwrap().contains("narrow"),
        "{problem}"
    );
    assert_eq!(response.header("cache-control"), Some("no-store"));
    // The repeat is answered from the cache: no statement.
    let statements = app.statements();
    let again = app.get("/tools?category=testing").await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.statements(), statements);
    // Another query is not affected by the remembered answer, a write elsewhere leaves it, and a
    // write in its category retires it.
    app.emulator.clear_faults();
    assert_eq!(
        app.get("/tools?category=other").await.status,
        StatusCode::OK
    );
    app.create(&token, &tool_body("elsewhere")).await;
    assert_eq!(
        app.get("/tools?category=testing").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let mut within = tool_body("retires");
    within["category"] = serde_json::json!("testing");
    app.create(&token, &within).await;
    assert_eq!(
        app.get("/tools?category=testing").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn list_misses_are_limited_per_address_and_hits_never() {
    let mut config = test_config(&redis_url());
    config.throttle.list_miss_burst = 3;
    config.throttle.list_miss_rate = 1;
    let app = TestApp::with_config(config).await;
    let (token, _) = app.user().await;
    app.create(&token, &tool_body("budget")).await;
    // A page another client filled is a hit for everybody, whatever their budget.
    assert_eq!(
        get_from(&app, "/tools?limit=1", "10.0.0.2").await.status,
        StatusCode::OK
    );
    // The window is in Redis: misses sent to two Lambda environments count together.
    let other_instance = app.instance();
    for limit in 2..5 {
        let path = format!("/tools?limit={limit}");
        let response = if limit % 2 == 0 {
            get_from(&app, &path, "10.0.0.1").await
        } else {
            other_instance.send(from(&path, "10.0.0.1")).await
        };
        assert_eq!(response.status, StatusCode::OK, "miss {limit}");
        assert_eq!(response.cache(), "MISS");
    }
    let refused = other_instance
        .send(from("/tools?limit=5", "10.0.0.1"))
        .await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text()
    );
    let refused = get_from(&app, "/tools?limit=5", "10.0.0.1").await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text()
    );
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3).contains(&wait), "{wait}");
    let hit = get_from(&app, "/tools?limit=1", "10.0.0.1").await;
    assert_eq!((hit.status, hit.cache()), (StatusCode::OK, "HIT"));
    let other = get_from(&app, "/tools?limit=6", "10.0.0.2").await;
    assert_eq!((other.status, other.cache()), (StatusCode::OK, "MISS"));
    // After the wait it announced, the address has room again.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let again = get_from(&app, "/tools?limit=5", "10.0.0.1").await;
    assert_eq!(again.status, StatusCode::OK);
}

#[tokio::test]
async fn with_redis_down_the_miss_budget_is_skipped() {
    let mut config = test_config(&refused_url());
    config.throttle.list_miss_burst = 1;
    let app = TestApp::with_config(config).await;
    for limit in 1..4 {
        let response = get_from(&app, &format!("/tools?limit={limit}"), "10.0.0.1").await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.cache(), "BYPASS");
    }
}
