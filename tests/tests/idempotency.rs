//! `Idempotency-Key` on tool writes, against the real services: a repeat answers the first
//! outcome without writing, whatever happened since; the same key with another request is 422;
//! a repeat while the first still runs is 409 with `Retry-After`; keys expire and are pruned.

use std::time::Duration;

use axum::body::Body;
use data_api_emulator::{FaultRule, Operation};
use http::{Method, Request, StatusCode};
use integration_tests::{redis_url, test_config, tool_body, TestApp, TestResponse};
use serde_json::{json, Value};

/// `method path` with a bearer token, a JSON body (if any) and an `Idempotency-Key`.
fn keyed(
    method: Method,
    path: &str,
    token: &str,
    key: &str,
    body: Option<&Value>,
) -> Request<Body> {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("idempotency-key", key);
    match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap()
}

/// Status, body and the headers a repeat must answer alike.
fn answer(response: &TestResponse) -> (StatusCode, String, Option<String>, Option<String>) {
    (
        response.status,
        response.text(),
        response.header("etag").map(str::to_owned),
        response.header("location").map(str::to_owned),
    )
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let rows: Vec<Value> = app.db.query(sql, vec![]).await.unwrap();
    rows[0]["n"].as_i64().unwrap()
}

#[tokio::test]
async fn a_repeated_create_answers_the_first_response_and_writes_once() {
    let app = TestApp::start().await;
    let (token, _) = app.user().await;
    let body = tool_body("keyed-create");
    // The commit's answer is lost on the way to the writer (it recognises its own commit), and
    // the client's response is lost too: it sends the request again with its key.
    app.emulator
        .add_fault(FaultRule::drop_response(Operation::CommitTransaction, 1));
    let first = app
        .send(keyed(
            Method::POST,
            "/tools",
            &token,
            "\"create-1\"",
            Some(&body),
        ))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let statements = app.statements();
    let again = app
        .send(keyed(
            Method::POST,
            "/tools",
            &token,
            "\"create-1\"",
            Some(&body),
        ))
        .await;
    assert_eq!(answer(&again), answer(&first));
    assert_eq!(
        app.statements() - statements,
        2,
        "the session check and the key's lookup, no write"
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM tools WHERE name LIKE 'keyed-create.%'"
        )
        .await,
        1
    );
    // Without a key, the same body is a new request: the name is taken.
    let unkeyed = app.json(Method::POST, "/tools", &token, &body).await;
    assert_eq!(unkeyed.status, StatusCode::CONFLICT);
    // The same key with another body: 422, nothing written.
    let other = app
        .send(keyed(
            Method::POST,
            "/tools",
            &token,
            "\"create-1\"",
            Some(&tool_body("keyed-other")),
        ))
        .await;
    assert_eq!(
        other.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        other.text()
    );
    assert!(other.json()["type"]
        .as_str()
        .unwrap()
        .ends_with("idempotency-key-reused"));
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM tools WHERE name LIKE 'keyed-other.%'"
        )
        .await,
        0
    );
    // Keys belong to their caller: another user's same key is another request.
    let (stranger, _) = app.user().await;
    let theirs = app
        .send(keyed(
            Method::POST,
            "/tools",
            &stranger,
            "\"create-1\"",
            Some(&tool_body("keyed-theirs")),
        ))
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.text());
}

#[tokio::test]
async fn repeats_of_an_update_and_a_delete_answer_as_the_first_did_whatever_happened_since() {
    let app = TestApp::start().await;
    let (token, _) = app.user().await;
    let tool = app.create(&token, &tool_body("keyed-patch")).await;
    let path = format!("/tools/{}", tool["id"].as_str().unwrap());
    let patch = json!({"description": "Changed once, whatever the retries"});
    let request = || {
        let mut request = keyed(Method::PATCH, &path, &token, "patch-1", Some(&patch));
        request
            .headers_mut()
            .insert("if-match", "\"r1\"".parse().unwrap());
        request
    };
    let first = app.send(request()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(first.json()["revision"], 2);
    // Without its key the repeat would be a 412 (the tool is at r2 now).
    let again = app.send(request()).await;
    assert_eq!(answer(&again), answer(&first));
    assert_eq!(app.get(&path).await.json()["revision"], 2);
    // A later write does not change what the key answers.
    let later = app
        .json(Method::PATCH, &path, &token, &json!({"version": "9.9.9"}))
        .await;
    assert_eq!(later.json()["revision"], 3);
    assert_eq!(answer(&app.send(request()).await), answer(&first));

    let delete = || keyed(Method::DELETE, &path, &token, "delete-1", None);
    assert_eq!(app.send(delete()).await.status, StatusCode::NO_CONTENT);
    // Gone: without its key a repeat is a 404; with it, the first answer.
    let repeated = app.send(delete()).await;
    assert_eq!(
        repeated.status,
        StatusCode::NO_CONTENT,
        "{}",
        repeated.text()
    );
    assert_eq!(
        app.delete(&path, &token).await.status,
        StatusCode::NOT_FOUND
    );
    // One key, one request: the delete's key on the update is refused.
    let crossed = app
        .send(keyed(
            Method::PATCH,
            &path,
            &token,
            "delete-1",
            Some(&patch),
        ))
        .await;
    assert_eq!(crossed.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn concurrent_duplicates_write_once_and_the_loser_is_told_to_retry() {
    let app = TestApp::start().await;
    let (token, _) = app.user().await;
    let body = tool_body("keyed-race");
    // Slow inserts keep the first request's transaction open (its key claimed) while the
    // others arrive.
    app.emulator.add_fault(FaultRule::delay(
        Operation::Execute,
        Some("INSERT"),
        Duration::from_millis(300),
        8,
    ));
    let send = || app.send(keyed(Method::POST, "/tools", &token, "race", Some(&body)));
    let (a, b, c, d) = tokio::join!(send(), send(), send(), send());
    let answers = [a, b, c, d];
    let created: Vec<&TestResponse> = answers
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    assert!(!created.is_empty());
    for response in &answers {
        match response.status {
            StatusCode::CREATED => assert_eq!(answer(response), answer(created[0])),
            StatusCode::CONFLICT => {
                assert_eq!(response.header("retry-after"), Some("1"));
                assert!(response.json()["type"]
                    .as_str()
                    .unwrap()
                    .ends_with("idempotency-key-in-use"));
            }
            other => panic!("{other}: {}", response.text()),
        }
    }
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM tools WHERE name LIKE 'keyed-race.%'"
        )
        .await,
        1
    );
    // A loser retrying after its Retry-After gets the winner's answer.
    let retried = app
        .send(keyed(Method::POST, "/tools", &token, "race", Some(&body)))
        .await;
    assert_eq!(answer(&retried), answer(created[0]));
}

#[tokio::test]
async fn keys_expire_and_the_sweeper_prunes_them() {
    let mut config = test_config(&redis_url());
    config.database.idempotency_key_ttl = Duration::from_secs(1);
    let app = TestApp::with_config(config).await;
    let (token, _) = app.user().await;
    let tool = app.create(&token, &tool_body("keyed-expiry")).await;
    let path = format!("/tools/{}", tool["id"].as_str().unwrap());
    let patch = json!({"description": "Once per key, within the retention"});
    let send = || {
        app.send(keyed(
            Method::PATCH,
            &path,
            &token,
            "expiring",
            Some(&patch),
        ))
    };
    assert_eq!(send().await.json()["revision"], 2);
    assert_eq!(send().await.json()["revision"], 2, "a repeat");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // Past the retention the key is free: the request runs again (and changes nothing new).
    let after = send().await;
    assert_eq!(after.status, StatusCode::OK);
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM idempotency_keys").await,
        1
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let report = app.short_sweep().await;
    assert_eq!(report.pruned_keys, 1, "{report:?}");
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM idempotency_keys").await,
        0
    );
}

#[tokio::test]
async fn malformed_keys_are_400() {
    let app = TestApp::start().await;
    let (token, _) = app.user().await;
    let body = tool_body("keyed-bad");
    for key in ["\"\"", "\"unterminated", &"k".repeat(256)] {
        let response = app
            .send(keyed(Method::POST, "/tools", &token, key, Some(&body)))
            .await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{key}");
    }
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM tools WHERE name LIKE 'keyed-bad.%'"
        )
        .await,
        0
    );
}
