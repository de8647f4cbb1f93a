//! One client cannot hurt the others: lists of the largest tools the API accepts stay answerable
//! (the Data API's 1 MiB result limit, Lambda's 6 MB response limit), and failed logins and
//! registrations are throttled per account and per address, and each function's database user can
//! do only its job, against the real services.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use integration_tests::{
    as_function, data_api, json_request, redis_url, refused_url, test_config, tool_body, TestApp,
    TestResponse,
};
use serde_json::{json, Value};
use shared::config::Function;
use shared::http::MAX_BODY_BYTES;
use shared::store::error_class::mysql_error;
use shared::store::{DataApiToolStore, StoreError, ToolStore, WriteRecord};
use uuid::Uuid;

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

/// `POST path` with a JSON body from the source address `address`.
async fn post_from(app: &TestApp, path: &str, address: &str, body: &Value) -> TestResponse {
    let mut request = json_request(Method::POST, path, body, None);
    let address = address.parse().expect("an address header value");
    request.headers_mut().insert("x-forwarded-for", address);
    app.send(request).await
}

async fn login(app: &TestApp, address: &str, email: &str, password: &str) -> TestResponse {
    post_from(
        app,
        "/auth/login",
        address,
        &json!({"email": email, "password": password}),
    )
    .await
}

/// An app whose limits are small enough to reach in a test.
async fn throttled_app(redis_url: &str, per_account: u32, per_address: u32) -> TestApp {
    let mut config = test_config(redis_url);
    config.throttle.login_failures_per_account = per_account;
    config.throttle.login_failures_per_address = per_address;
    config.throttle.registrations_per_address = 3;
    TestApp::with_config(config).await
}

async fn register(app: &TestApp, address: &str) -> (String, TestResponse) {
    let email = format!("user-{}@example.com", Uuid::now_v7().simple());
    let response = post_from(
        app,
        "/auth/register",
        address,
        &json!({"email": email, "password": PASSWORD}),
    )
    .await;
    (email, response)
}

const PASSWORD: &str = "correct horse battery";

/// A 429 problem with a `Retry-After` within the window; returns its body without the numbers
/// (which depend on the clock).
fn assert_throttled(response: &TestResponse, window: Duration) -> String {
    assert_eq!(
        response.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        response.text()
    );
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json")
    );
    let wait: u64 = response
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("whole seconds");
    assert!((1..=window.as_secs()).contains(&wait), "Retry-After {wait}");
    response.text().replace(|c: char| c.is_ascii_digit(), "")
}

#[tokio::test]
async fn the_eleventh_failed_login_of_an_account_is_429_for_real_and_unknown_emails() {
    let app = throttled_app(&redis_url(), 10, 1_000).await;
    let window = app.config.throttle.login_window;
    let (real, registered) = register(&app, "198.51.100.1").await;
    assert_eq!(registered.status, StatusCode::CREATED);
    let unknown = format!("nobody-{}@example.com", Uuid::now_v7().simple());

    let mut bodies = Vec::new();
    let mut statements = Vec::new();
    for email in [&real, &unknown] {
        let before = app.statements();
        for i in 0..10 {
            let address = format!("203.0.113.{i}");
            let failed = login(&app, &address, email, "wrong password").await;
            assert_eq!(
                failed.status,
                StatusCode::UNAUTHORIZED,
                "{i}: {}",
                failed.text()
            );
            bodies.push(failed.text());
        }
        statements.push(app.statements() - before);
        // From yet another address: the account's own limit.
        let throttled = login(&app, "192.0.2.99", email, "wrong password").await;
        bodies.push(assert_throttled(&throttled, window));
        // Even the right password waits: guessing stops, whatever the guess.
        let right = login(&app, "192.0.2.98", email, PASSWORD).await;
        assert_throttled(&right, window);
    }
    // Nothing tells the two apart: the same answers and the same database work.
    assert!(bodies[..10].iter().all(|b| *b == bodies[0]));
    assert_eq!(
        bodies[..11],
        bodies[11..],
        "real and unknown emails answer alike"
    );
    assert_eq!(statements[0], statements[1], "the same statements for both");
}

/// A login from a device that logged in before: its `deviceToken` sent back.
async fn login_on(
    app: &TestApp,
    address: &str,
    email: &str,
    password: &str,
    device: &str,
) -> TestResponse {
    post_from(
        app,
        "/auth/login",
        address,
        &json!({"email": email, "password": password, "deviceToken": device}),
    )
    .await
}

fn device_token(login: &TestResponse) -> String {
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    login.json()["deviceToken"]
        .as_str()
        .expect("a login hands out a device token")
        .to_owned()
}

#[tokio::test]
async fn a_successful_login_resets_the_failures_of_its_place() {
    let app = throttled_app(&redis_url(), 10, 1_000).await;
    let (email, _) = register(&app, "198.51.100.2").await;
    let mut device = device_token(&login(&app, "198.51.100.2", &email, PASSWORD).await);
    for _ in 0..3 {
        for _ in 0..4 {
            let failed = login_on(&app, "198.51.100.2", &email, "wrong password", &device).await;
            assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
        }
        device = device_token(&login_on(&app, "198.51.100.2", &email, PASSWORD, &device).await);
    }
    for _ in 0..5 {
        login_on(&app, "198.51.100.2", &email, "wrong password", &device).await;
    }
    let throttled = login_on(&app, "198.51.100.2", &email, PASSWORD, &device).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
}

/// The scenario: a stranger who knows an email sends wrong passwords for it from
/// anywhere; the owner still logs in from a device that logged in before, with Redis up and
/// with only the database's counters, while the stranger's guesses stay bounded.
#[tokio::test]
async fn a_stranger_cannot_lock_the_owner_out_of_a_known_device() {
    let app = throttled_app(&redis_url(), 10, 1_000).await;
    let window = app.config.throttle.login_window;
    let down = app.beside(&refused_url()).await;
    for registry in [&app, &down] {
        let (email, _) = register(&app, "192.0.2.10").await;
        let device = device_token(&login(registry, "203.0.113.9", &email, PASSWORD).await);
        let mut guesses = 0;
        for i in 0..30 {
            let address = format!("198.51.100.{}", i % 7);
            match login(registry, &address, &email, "wrong password")
                .await
                .status
            {
                StatusCode::UNAUTHORIZED => guesses += 1,
                StatusCode::TOO_MANY_REQUESTS => {}
                other => panic!("{other}"),
            }
        }
        assert_eq!(guesses, 10, "the account's guesses from unknown places");
        assert_throttled(
            &login(registry, "203.0.113.50", &email, PASSWORD).await,
            window,
        );
        let owner = login_on(registry, "203.0.113.9", &email, PASSWORD, &device).await;
        assert_eq!(owner.status, StatusCode::OK, "{}", owner.text());
        // On the move: the device is the place, not its address.
        let travelling = login_on(registry, "192.0.2.77", &email, PASSWORD, &device).await;
        assert_eq!(travelling.status, StatusCode::OK, "{}", travelling.text());
    }
}

/// The first report: ten wrong passwords from one address. The place's limit refuses
/// the stranger after five, and the refused attempts spend nothing of the account's
/// unknown-places window, so the owner logs in from elsewhere even without a device token.
#[tokio::test]
async fn a_stranger_refused_at_one_place_spends_no_more_of_the_account() {
    let app = throttled_app(&redis_url(), 10, 1_000).await;
    let (email, _) = register(&app, "192.0.2.10").await;
    let mut statuses = Vec::new();
    for _ in 0..30 {
        statuses.push(
            login(&app, "198.51.100.7", &email, "wrong password")
                .await
                .status,
        );
    }
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        (statuses.len() - refused, refused),
        (5, 25),
        "five guesses from one place"
    );
    let owner = login(&app, "203.0.113.9", &email, PASSWORD).await;
    assert_eq!(owner.status, StatusCode::OK, "{}", owner.text());
}

#[tokio::test]
async fn failed_logins_are_limited_per_address_across_accounts() {
    let app = throttled_app(&redis_url(), 10, 5).await;
    let window = app.config.throttle.login_window;
    for i in 0..5 {
        let email = format!("guess-{i}-{}@example.com", Uuid::now_v7().simple());
        let failed = login(&app, "198.51.100.7", &email, "wrong password").await;
        assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
    }
    let (email, _) = register(&app, "198.51.100.8").await;
    assert_throttled(&login(&app, "198.51.100.7", &email, PASSWORD).await, window);
    let elsewhere = login(&app, "198.51.100.8", &email, PASSWORD).await;
    assert_eq!(
        elsewhere.status,
        StatusCode::OK,
        "other addresses are not affected"
    );
}

#[tokio::test]
async fn concurrent_guesses_never_exceed_the_account_limit() {
    let app = Arc::new(throttled_app(&redis_url(), 10, 1_000).await);
    let (email, _) = register(&app, "198.51.100.3").await;
    let guesses = (0..40).map(|i| {
        let app = app.clone();
        let email = email.clone();
        tokio::spawn(async move {
            login(&app, &format!("203.0.113.{i}"), &email, "wrong password")
                .await
                .status
        })
    });
    let mut unauthorized = 0;
    for guess in guesses {
        match guess.await.unwrap() {
            StatusCode::UNAUTHORIZED => unauthorized += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(unauthorized, 10, "exactly the limit was checked");
}

#[tokio::test]
async fn the_limits_hold_while_redis_is_down() {
    let app = throttled_app(&redis_url(), 10, 20).await;
    let window = app.config.throttle.login_window;
    let (email, _) = register(&app, "198.51.100.4").await;
    // The same registry seen by an auth function whose Redis is unreachable.
    let down = app.beside(&refused_url()).await;
    for i in 0..10 {
        let failed = login(&down, &format!("203.0.113.{i}"), &email, "wrong password").await;
        assert_eq!(failed.status, StatusCode::UNAUTHORIZED, "{}", failed.text());
    }
    assert_throttled(&login(&down, "192.0.2.1", &email, PASSWORD).await, window);
    // Per address too: 20 failures from one address, each against another email, reach its limit.
    for i in 0..20 {
        let other = format!("other-{i}-{}@example.com", Uuid::now_v7().simple());
        let failed = login(&down, "198.51.100.5", &other, "wrong password").await;
        assert_eq!(failed.status, StatusCode::UNAUTHORIZED, "{i}");
    }
    let fresh = format!("fresh-{}@example.com", Uuid::now_v7().simple());
    assert_throttled(
        &login(&down, "198.51.100.5", &fresh, "x-password").await,
        window,
    );
}

#[tokio::test]
async fn registrations_are_limited_per_address() {
    let app = throttled_app(&redis_url(), 10, 1_000).await;
    let window = app.config.throttle.registration_window;
    for _ in 0..3 {
        let (_, created) = register(&app, "198.51.100.6").await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    }
    assert_throttled(&register(&app, "198.51.100.6").await.1, window);
    let (_, elsewhere) = register(&app, "198.51.100.9").await;
    assert_eq!(elsewhere.status, StatusCode::CREATED);
}

/// MySQL's `ER_TABLEACCESS_DENIED_ERROR` and `ER_COLUMNACCESS_DENIED_ERROR`.
const ACCESS_DENIED: [u32; 2] = [1142, 1143];

/// Whether a store error is the database refusing a grant, by its MySQL error number.
fn denied(error: &StoreError) -> bool {
    matches!(error, StoreError::Database(detail)
        if mysql_error(detail).is_some_and(|e| ACCESS_DENIED.contains(&e.number)))
}

/// What `function`'s database user gets from `sql`: `Ok` or the database's refusal (a refused
/// grant), as the store reports it.
async fn run_as(app: &TestApp, function: Function, sql: &str) -> Result<(), StoreError> {
    let db = data_api(app.emulator_addr, &as_function(&app.config, function));
    db.execute(sql, vec![]).await.map(|_| ())
}

#[tokio::test]
async fn each_function_user_can_do_only_its_job() {
    let app = TestApp::start().await;
    let (token, _) = app.user().await;
    let tool = app.create(&token, &tool_body("grants")).await;
    let id = tool["id"].as_str().unwrap();

    // tools-read reads tools and nothing else; a write is the database's refusal.
    let read = Function::ToolsRead;
    run_as(&app, read, "SELECT id FROM tools").await.unwrap();
    for sql in [
        format!("UPDATE tools SET description = 'x' WHERE id = '{id}'"),
        format!("DELETE FROM tools WHERE id = '{id}'"),
        "SELECT password_hash FROM users".to_owned(),
        "SELECT id FROM sessions".to_owned(),
        "DELETE FROM cache_outbox".to_owned(),
        "CREATE TABLE intruder (id INT)".to_owned(),
    ] {
        let refused = run_as(&app, read, &sql).await.expect_err(&sql);
        assert!(denied(&refused), "{sql}: {refused}");
    }
    // Through the store, as the function would: the insert is refused, nothing is written.
    let store = DataApiToolStore::new(data_api(app.emulator_addr, &as_function(&app.config, read)));
    let mut copy: shared::domain::Tool = serde_json::from_value(tool.clone()).unwrap();
    copy.id = Uuid::now_v7();
    copy.name = format!("{}-copy", copy.name);
    let write = WriteRecord {
        id: Uuid::now_v7(),
        scopes: None,
        key: None,
    };
    let refused = store.insert(&copy, write).await.unwrap_err();
    assert!(denied(&refused), "{refused}");
    assert_eq!(
        app.get(&format!("/tools/{}", copy.id)).await.status,
        StatusCode::NOT_FOUND
    );

    // tools-write sees who a session belongs to and its role, never a password hash.
    run_as(&app, Function::ToolsWrite, "SELECT id, role FROM users")
        .await
        .unwrap();
    let hash = run_as(
        &app,
        Function::ToolsWrite,
        "SELECT password_hash FROM users",
    )
    .await;
    assert!(denied(&hash.unwrap_err()));
    let tokens = run_as(
        &app,
        Function::ToolsWrite,
        "SELECT token_hash FROM refresh_tokens",
    )
    .await;
    assert!(denied(&tokens.unwrap_err()));

    // The sweeper: the outbox, and reads of tools.
    run_as(&app, Function::CacheSweeper, "SELECT seq FROM cache_outbox")
        .await
        .unwrap();
    let users = run_as(&app, Function::CacheSweeper, "SELECT id FROM users").await;
    assert!(denied(&users.unwrap_err()));
    let write = run_as(
        &app,
        Function::CacheSweeper,
        &format!("DELETE FROM tools WHERE id = '{id}'"),
    )
    .await;
    assert!(denied(&write.unwrap_err()));

    // auth: accounts and sessions, no tools.
    let tools = run_as(&app, Function::Auth, "SELECT id FROM tools").await;
    assert!(denied(&tools.unwrap_err()));
}
