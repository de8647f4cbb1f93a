//! Accounts, sessions and refresh tokens: the auth routes and the session binding of tool writes,
//! against the real services.

use std::time::Duration;

use axum::body::Body;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use data_api_emulator::{FaultRule, Operation};
use http::{Method, Request, StatusCode};
use integration_tests::{json_request, tool_body, OwnedRedis, TestApp, TestResponse};
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::{json, Value};
use shared::config::Config;
use shared::config::Secret;
use shared::domain::{Role, Timestamp};
use shared::services::auth::ClientInfo;
use shared::services::auth::TokenSigner;
use uuid::Uuid;

fn post(path: &str, body: &Value) -> Request<Body> {
    json_request(Method::POST, path, body, None)
}

async fn register(app: &TestApp) -> (String, String) {
    let email = format!("Person.{}@Example.com", Uuid::now_v7().simple());
    let password = "a long enough password".to_owned();
    let response = app
        .send(post(
            "/auth/register",
            &json!({"email": email, "password": password, "displayName": "Pat"}),
        ))
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    let user = response.json();
    assert_eq!(user["role"], "user");
    assert_eq!(user["email"], email);
    assert_eq!(user["displayName"], "Pat");
    assert!(user.get("passwordHash").is_none() && !response.text().contains("argon2"));
    (email, password)
}

async fn login(app: &TestApp, email: &str, password: &str) -> Value {
    let response = app
        .send(post(
            "/auth/login",
            &json!({"email": email, "password": password}),
        ))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let tokens = response.json();
    assert_eq!(tokens["tokenType"], "Bearer");
    assert_eq!(tokens["expiresIn"], 900);
    assert_eq!(tokens["refreshExpiresIn"], 604_800);
    tokens
}

async fn session(app: &TestApp, access: &str) -> TestResponse {
    app.send(
        Request::get("/auth/session")
            .header("authorization", format!("Bearer {access}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

async fn refresh(app: &TestApp, refresh_token: &str) -> TestResponse {
    app.send(post(
        "/auth/refresh",
        &json!({"refreshToken": refresh_token}),
    ))
    .await
}

async fn logout(app: &TestApp, access: &str) -> TestResponse {
    app.send(
        Request::post("/auth/logout")
            .header("authorization", format!("Bearer {access}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

fn assert_unauthorized(response: &TestResponse) {
    assert_eq!(
        response.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        response.text()
    );
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json")
    );
    assert!(response
        .header("www-authenticate")
        .is_some_and(|v| v.starts_with("Bearer")));
}

#[tokio::test]
async fn register_rules_and_unique_case_insensitive_email() {
    let app = TestApp::start().await;
    let (email, _) = register(&app).await;
    let again = app
        .send(post(
            "/auth/register",
            &json!({"email": email.to_uppercase(), "password": "another password"}),
        ))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    for (body, field) in [
        (
            json!({"email": "not-an-email", "password": "12345678"}),
            "email",
        ),
        (
            json!({"email": "a@b.co", "password": "1234567"}),
            "password",
        ),
        (
            json!({"email": "a@b.co", "password": "x".repeat(257)}),
            "password",
        ),
        (
            json!({"email": "a@b.co", "password": "12345678", "role": "admin"}),
            "role",
        ),
        (json!({"password": "12345678"}), "email"),
    ] {
        let response = app.send(post("/auth/register", &body)).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(response.json()["errors"][0]["field"], field, "{body}");
    }
    let exact = app.send(post("/auth/register", &json!({"email": format!("x{}@b.co", Uuid::now_v7().simple()), "password": "x".repeat(256)}))).await;
    assert_eq!(exact.status, StatusCode::CREATED);
}

#[tokio::test]
async fn login_answers_the_same_for_unknown_email_and_wrong_password() {
    let app = TestApp::start().await;
    let (email, password) = register(&app).await;
    let wrong = app
        .send(post(
            "/auth/login",
            &json!({"email": email, "password": "not the password"}),
        ))
        .await;
    let unknown = app
        .send(post(
            "/auth/login",
            &json!({"email": "nobody@example.com", "password": password}),
        ))
        .await;
    assert_unauthorized(&wrong);
    assert_unauthorized(&unknown);
    assert_eq!(wrong.body, unknown.body);
    // Email is case-insensitive at login too.
    login(&app, &email.to_lowercase(), &password).await;
}

#[tokio::test]
async fn session_view_and_writes_bound_to_the_session() {
    let app = TestApp::start().await;
    let (email, password) = register(&app).await;
    let tokens = login(&app, &email, &password).await;
    let access = tokens["accessToken"].as_str().unwrap();
    let view = session(&app, access).await;
    assert_eq!(view.status, StatusCode::OK);
    let view = view.json();
    assert_eq!(view["sessionId"], tokens["sessionId"]);
    for field in ["userId", "createdAt", "expiresAt", "lastRefreshedAt"] {
        assert!(view[field].is_string(), "{field}");
    }
    let created = app
        .json(Method::POST, "/tools", access, &tool_body("session"))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.json()["ownerId"], view["userId"]);
    // Logout takes effect at once, for the session view and for tool writes.
    assert_eq!(logout(&app, access).await.status, StatusCode::NO_CONTENT);
    assert_unauthorized(&session(&app, access).await);
    assert_unauthorized(
        &app.json(Method::POST, "/tools", access, &tool_body("after-logout"))
            .await,
    );
    assert_unauthorized(&refresh(&app, tokens["refreshToken"].as_str().unwrap()).await);
    assert_unauthorized(&logout(&app, access).await);
}

#[tokio::test]
async fn refresh_rotates_slides_and_reuse_revokes_the_session() {
    let app = TestApp::start().await;
    let (email, password) = register(&app).await;
    let first = login(&app, &email, &password).await;
    let before = session(&app, first["accessToken"].as_str().unwrap())
        .await
        .json();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let second = refresh(&app, first["refreshToken"].as_str().unwrap()).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text());
    let second = second.json();
    assert_eq!(second["sessionId"], first["sessionId"]);
    assert_ne!(second["refreshToken"], first["refreshToken"]);
    let after = session(&app, second["accessToken"].as_str().unwrap())
        .await
        .json();
    assert!(
        after["expiresAt"].as_str() > before["expiresAt"].as_str(),
        "expiry slid"
    );
    assert!(after["lastRefreshedAt"].as_str() > before["lastRefreshedAt"].as_str());
    assert_eq!(after["createdAt"], before["createdAt"]);
    // Presented again right away (a client retrying a refresh whose answer it lost, or a second
    // tab), the old token gets the same successor again, and the session stays.
    let again = refresh(&app, first["refreshToken"].as_str().unwrap()).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    assert_eq!(again.json()["refreshToken"], second["refreshToken"]);
    assert_eq!(
        session(&app, again.json()["accessToken"].as_str().unwrap())
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        session(&app, second["accessToken"].as_str().unwrap())
            .await
            .status,
        StatusCode::OK
    );
    // Past the grace window it is theft: the whole session is revoked.
    tokio::time::sleep(app.config.auth.refresh_reuse_grace + Duration::from_millis(100)).await;
    assert_unauthorized(&refresh(&app, first["refreshToken"].as_str().unwrap()).await);
    assert_unauthorized(&refresh(&app, second["refreshToken"].as_str().unwrap()).await);
    assert_unauthorized(&session(&app, second["accessToken"].as_str().unwrap()).await);
    assert_unauthorized(&session(&app, first["accessToken"].as_str().unwrap()).await);
    assert_unauthorized(
        &app.json(
            Method::POST,
            "/tools",
            second["accessToken"].as_str().unwrap(),
            &tool_body("stolen"),
        )
        .await,
    );
    // Garbage refresh tokens are plain 401s.
    assert_unauthorized(&refresh(&app, "not-a-token").await);
    assert_eq!(
        app.send(post("/auth/refresh", &json!({}))).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_rotate_it_exactly_once() {
    let app = std::sync::Arc::new(TestApp::start().await);
    let (email, password) = register(&app).await;
    for _ in 0..5 {
        let tokens = login(&app, &email, &password).await;
        let token = tokens["refreshToken"].as_str().unwrap().to_owned();
        let attempts: Vec<_> = (0..8)
            .map(|_| {
                let (app, token) = (app.clone(), token.clone());
                tokio::spawn(async move { refresh(&app, &token).await })
            })
            .collect();
        let mut successors = std::collections::BTreeSet::new();
        for attempt in attempts {
            let answer = attempt.await.unwrap();
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
            successors.insert(answer.json()["refreshToken"].as_str().unwrap().to_owned());
        }
        // One rotation: every racer got the same successor, and the session holds exactly the
        // original token (rotated) and that successor.
        assert_eq!(successors.len(), 1, "{successors:?}");
        #[derive(serde::Deserialize)]
        struct Count {
            n: i64,
        }
        let rows: Vec<Count> = app
            .db
            .query(
                "SELECT COUNT(*) AS n FROM refresh_tokens WHERE session_id = :id",
                vec![shared::store::param(
                    "id",
                    tokens["sessionId"].as_str().unwrap(),
                )],
            )
            .await
            .unwrap();
        assert_eq!(rows[0].n, 2);
        let successor = successors.into_iter().next().unwrap();
        assert_eq!(refresh(&app, &successor).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_refresh_whose_answer_was_lost_keeps_the_session_and_late_reuse_still_revokes_it() {
    let app = TestApp::start().await;
    let (email, password) = register(&app).await;
    let first = login(&app, &email, &password).await;
    let token = first["refreshToken"].as_str().unwrap();

    // The Data API's answer to the rotation's commit is lost; the SDK retries the commit and
    // finds the transaction gone. The refresh still answers the rotation it made.
    app.emulator
        .add_fault(FaultRule::drop_response(Operation::CommitTransaction, 1));
    let rotated = refresh(&app, token).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text());
    assert_eq!(app.emulator.stats().dropped_responses, 1);
    let rotated = rotated.json();

    // The client's answer is lost too: it retries with the same token and gets the same pair's
    // refresh token and a working access token. The session is alive.
    let retried = refresh(&app, token).await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.text());
    let retried = retried.json();
    assert_eq!(retried["refreshToken"], rotated["refreshToken"]);
    assert_eq!(retried["sessionId"], first["sessionId"]);
    let access = retried["accessToken"].as_str().unwrap();
    assert_eq!(session(&app, access).await.status, StatusCode::OK);

    // The successor works, once.
    let next = refresh(&app, retried["refreshToken"].as_str().unwrap()).await;
    assert_eq!(next.status, StatusCode::OK);
    let next = next.json();

    // Reuse of the first token after the grace window is theft: the session is revoked.
    tokio::time::sleep(app.config.auth.refresh_reuse_grace + Duration::from_millis(100)).await;
    assert_unauthorized(&refresh(&app, token).await);
    assert_unauthorized(&session(&app, next["accessToken"].as_str().unwrap()).await);
    assert_unauthorized(&refresh(&app, next["refreshToken"].as_str().unwrap()).await);
}

#[tokio::test]
async fn a_registration_or_login_whose_answer_was_lost_is_not_a_conflict() {
    let app = TestApp::start().await;
    let email = format!("retry.{}@example.com", Uuid::now_v7().simple());
    app.emulator
        .add_fault(FaultRule::drop_response_of_statement("INSERT", 1));
    let registered = app
        .send(post(
            "/auth/register",
            &json!({"email": email, "password": "a long enough password"}),
        ))
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text()
    );
    app.emulator
        .add_fault(FaultRule::drop_response(Operation::CommitTransaction, 1));
    let tokens = login(&app, &email, "a long enough password").await;
    assert_eq!(
        session(&app, tokens["accessToken"].as_str().unwrap())
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(app.emulator.stats().dropped_responses, 2);
}

fn token_with(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

fn hs256(secret: &[u8], signing_input: &str) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret).unwrap();
    mac.update(signing_input.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

#[tokio::test]
async fn forged_expired_and_malformed_tokens_are_all_401() {
    let app = TestApp::start().await;
    let (email, password) = register(&app).await;
    let tokens = login(&app, &email, &password).await;
    let good = tokens["accessToken"].as_str().unwrap().to_owned();
    let parts: Vec<&str> = good.split('.').collect();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    // The published key, under other claim rules.
    let other_config = |name: &'static str, value: &'static str| {
        TokenSigner::new(
            &app.config.auth.signing_secret,
            &Config::from_lookup(move |k| (k == name).then(|| value.to_owned()))
                .unwrap()
                .auth,
        )
    };
    let public_key = URL_SAFE_NO_PAD
        .decode(&app.signer.published_key().public_key)
        .unwrap();
    let kid = &app.signer.published_key().kid;
    let now = Timestamp::now();
    let sub: Uuid = claims["sub"].as_str().unwrap().parse().unwrap();
    let sid: Uuid = claims["sid"].as_str().unwrap().parse().unwrap();
    let mut admin = claims.clone();
    admin["role"] = json!("admin");
    let hs256_header = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
    let hs_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(hs256_header.to_string()),
        parts[1]
    );
    let forged = vec![
        (
            "alg none",
            token_with(&json!({"alg": "none", "typ": "JWT"}), &claims, b""),
        ),
        (
            "HS256 keyed with the public key",
            format!(
                "{hs_input}.{}",
                URL_SAFE_NO_PAD.encode(hs256(&public_key, &hs_input))
            ),
        ),
        (
            "a key nobody published (foreign kid)",
            TokenSigner::new(
                &Secret::new("a different secret of at least 32 bytes"),
                &app.config.auth,
            )
            .issue(sub, sid, Role::User, now),
        ),
        (
            "tampered payload",
            format!(
                "{}.{}.{}",
                parts[0],
                URL_SAFE_NO_PAD.encode(admin.to_string()),
                parts[2]
            ),
        ),
        (
            "expired",
            app.signer.issue(
                sub,
                sid,
                Role::User,
                Timestamp::from_millis(now.millis() - 3_600_000),
            ),
        ),
        (
            "wrong issuer",
            other_config("JWT_ISSUER", "someone-else").issue(sub, sid, Role::User, now),
        ),
        (
            "wrong audience",
            other_config("JWT_AUDIENCE", "another-api").issue(sub, sid, Role::User, now),
        ),
        (
            "unknown session",
            app.signer.issue(sub, Uuid::now_v7(), Role::User, now),
        ),
        (
            "another user's session",
            app.signer.issue(Uuid::now_v7(), sid, Role::Admin, now),
        ),
        ("garbage", "garbage".to_owned()),
        ("three dots", "a.b.c".to_owned()),
        ("signature stripped", format!("{}.{}.", parts[0], parts[1])),
    ];
    assert_eq!(session(&app, &good).await.status, StatusCode::OK);
    for (what, token) in forged {
        assert_unauthorized(&session(&app, &token).await);
        let write = app
            .json(Method::POST, "/tools", &token, &tool_body("forged"))
            .await;
        assert_eq!(write.status, StatusCode::UNAUTHORIZED, "{what}");
    }
    let no_scheme = app
        .send(
            Request::get("/auth/session")
                .header("authorization", good.clone())
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_unauthorized(&no_scheme);
}

/// A signing key rotation (auth instances started with a new secret) logs nobody out: every
/// tools-write instance, those that read the keys before it included, accepts the current and
/// the previous key, and a key retired by a second rotation stops verifying.
#[tokio::test]
async fn a_rotated_signing_key_logs_nobody_out() {
    let app = TestApp::start().await;
    let (email, password) = register(&app).await;
    let credentials = json!({"email": email, "password": password});
    let instance_of_key = |secret: &str| {
        let mut auth = app.config.auth.clone();
        auth.signing_secret = Secret::new(secret);
        app.auth_instance(&auth)
    };
    let access = |pair: &shared::services::auth::TokenPair| pair.access_token.clone();
    let kid = |token: &str| -> String {
        let header = URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap();
        serde_json::from_slice::<Value>(&header).unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first = app
        .auth
        .login(&credentials, ClientInfo::default())
        .await
        .unwrap();
    let warm = app.instance();
    assert_eq!(
        write(&warm, access(&first), "rot-a").await,
        StatusCode::CREATED
    );

    let second = instance_of_key("the second signing secret, 32 bytes or more")
        .login(&credentials, ClientInfo::default())
        .await
        .unwrap();
    assert_ne!(kid(&access(&first)), kid(&access(&second)));
    // The warm instance read the first key only; the second's token makes it read again.
    assert_eq!(
        write(&warm, access(&second), "rot-b").await,
        StatusCode::CREATED
    );
    assert_eq!(
        write(&warm, access(&first), "rot-c").await,
        StatusCode::CREATED
    );
    let fresh = app.instance();
    assert_eq!(
        write(&fresh, access(&first), "rot-d").await,
        StatusCode::CREATED
    );
    assert_eq!(
        write(&fresh, access(&second), "rot-e").await,
        StatusCode::CREATED
    );

    let third = instance_of_key("the third signing secret, also 32 bytes long")
        .login(&credentials, ClientInfo::default())
        .await
        .unwrap();
    let fresh = app.instance();
    assert_eq!(
        write(&fresh, access(&third), "rot-f").await,
        StatusCode::CREATED
    );
    assert_eq!(
        write(&fresh, access(&second), "rot-g").await,
        StatusCode::CREATED
    );
    assert_eq!(
        write(&fresh, access(&first), "rot-h").await,
        StatusCode::UNAUTHORIZED,
        "retired by the second rotation"
    );
    // Published keys are public halves only.
    let stored: Vec<Value> = app
        .db
        .query(
            "SELECT kid, public_key AS publicKey FROM signing_keys",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|key| URL_SAFE_NO_PAD
        .decode(key["publicKey"].as_str().unwrap())
        .unwrap()
        .len()
        == 32));
}

async fn write(instance: &integration_tests::Instance, token: String, name: &str) -> StatusCode {
    let request = json_request(Method::POST, "/tools", &tool_body(name), Some(&token));
    instance.send(request).await.status
}

/// With Redis stopped, and with Redis answering reads but not writes, every auth route works and
/// no revoked token is accepted afterwards.
#[tokio::test]
async fn auth_survives_redis_outages_and_never_accepts_a_revoked_session() {
    let mut redis = OwnedRedis::start().await;
    let app = TestApp::with_redis(&redis.url()).await;
    let (email, password) = register(&app).await;
    let warm = login(&app, &email, &password).await;
    let warm_access = warm["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(session(&app, &warm_access).await.status, StatusCode::OK);

    // Redis answers reads but no writes: the logout cannot remove the cached session.
    redis.pause_writes(1_500).await;
    assert_eq!(
        logout(&app, &warm_access).await.status,
        StatusCode::NO_CONTENT
    );
    assert_unauthorized(&session(&app, &warm_access).await);
    let (new_email, new_password) = register(&app).await;
    login(&app, &new_email, &new_password).await;
    let during = login(&app, &email, &password).await;
    let access = during["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(session(&app, &access).await.status, StatusCode::OK);
    let rotated = refresh(&app, during["refreshToken"].as_str().unwrap()).await;
    assert_eq!(rotated.status, StatusCode::OK);
    let rotated = rotated.json();
    // Past the pause, and past the reuse grace: presenting the rotated token again is theft.
    tokio::time::sleep(
        Duration::from_millis(1_600)
            .max(app.config.auth.refresh_reuse_grace + Duration::from_millis(200)),
    )
    .await;
    assert_unauthorized(&session(&app, &warm_access).await);
    assert_unauthorized(&refresh(&app, during["refreshToken"].as_str().unwrap()).await);
    assert_unauthorized(&session(&app, rotated["accessToken"].as_str().unwrap()).await);

    // Redis stopped: everything still works from the database.
    redis.stop();
    let (email2, password2) = register(&app).await;
    let down = login(&app, &email2, &password2).await;
    let access = down["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(session(&app, &access).await.status, StatusCode::OK);
    let next = refresh(&app, down["refreshToken"].as_str().unwrap()).await;
    assert_eq!(next.status, StatusCode::OK);
    let next = next.json();
    let next_access = next["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(
        app.json(
            Method::POST,
            "/tools",
            &next_access,
            &tool_body("redis-down")
        )
        .await
        .status,
        StatusCode::CREATED
    );
    assert_eq!(
        logout(&app, &next_access).await.status,
        StatusCode::NO_CONTENT
    );
    assert_unauthorized(&session(&app, &next_access).await);
    redis.restart().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_unauthorized(&session(&app, &next_access).await);
    assert_unauthorized(&refresh(&app, next["refreshToken"].as_str().unwrap()).await);
}

/// Sessions are stored with their TTL: in Redis and in the database, alive until they expire or
/// are revoked, 100 cases.
#[test]
fn session_storage_with_ttl() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = rt.block_on(TestApp::start());
    let (email, password) = rt.block_on(register(&app));
    let session_ttl = app.config.auth.session_ttl.as_millis() as i64;
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 100,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &("[ -~]{1,80}", (1u8..=254, 0u8..=255, 0u8..=255, 1u8..=254)),
            |(agent, ip)| {
                rt.block_on(async {
                    let ip = format!("{}.{}.{}.{}", ip.0, ip.1, ip.2, ip.3);
                    let request = Request::post("/auth/login")
                        .header("content-type", "application/json")
                        .header("user-agent", agent.trim())
                        .header("x-forwarded-for", format!("{ip}, 10.0.0.1"))
                        .body(Body::from(
                            json!({"email": email, "password": password}).to_string(),
                        ))
                        .unwrap();
                    let response = app.send(request).await;
                    assert_eq!(response.status, StatusCode::OK);
                    let sid: Uuid = response.json()["sessionId"]
                        .as_str()
                        .unwrap()
                        .parse()
                        .unwrap();
                    let key = app.auth.cache().keys().session(sid);
                    let mut redis = app.redis().await;
                    let stored: Vec<u8> = redis::cmd("GET")
                        .arg(&key)
                        .query_async(&mut redis)
                        .await
                        .unwrap();
                    let pttl: i64 = redis::cmd("PTTL")
                        .arg(&key)
                        .query_async(&mut redis)
                        .await
                        .unwrap();
                    let record: Value = serde_json::from_slice(&stored).unwrap();
                    for field in [
                        "sessionId",
                        "userId",
                        "role",
                        "createdAt",
                        "expiresAt",
                        "lastRefreshedAt",
                        "userAgent",
                        "sourceIp",
                    ] {
                        assert!(!record[field].is_null(), "{field} missing in {record}");
                    }
                    assert_eq!(record["userAgent"], agent.trim());
                    assert_eq!(record["sourceIp"], ip);
                    let at = |f: &str| {
                        Timestamp::parse_rfc3339(record[f].as_str().unwrap())
                            .unwrap()
                            .millis()
                    };
                    assert_eq!(at("expiresAt") - at("createdAt"), session_ttl);
                    assert_eq!(at("lastRefreshedAt"), at("createdAt"));
                    let left = at("expiresAt") - Timestamp::now().millis();
                    assert!(
                        (pttl - left).abs() <= 1_000,
                        "Redis TTL {pttl} ms vs {left} ms left"
                    );
                });
                Ok(())
            },
        )
        .unwrap();
}

/// A login at new hashing costs replaces the stored hash through auth's own database user,
/// which may update that one column of `users` and nothing else.
#[tokio::test]
async fn a_login_after_a_cost_change_stores_the_hash_at_the_new_costs() {
    let app = TestApp::start().await;
    let (email, password) = register(&app).await;
    let stored = || async {
        #[derive(serde::Deserialize)]
        struct Row {
            hash: String,
        }
        let rows: Vec<Row> = app
            .db
            .query(
                "SELECT password_hash AS hash FROM users WHERE email = :email",
                vec![shared::store::param("email", email.as_str())],
            )
            .await
            .unwrap();
        rows.into_iter().next().unwrap().hash
    };
    let before = stored().await;
    let mut raised = app.config.clone();
    raised.passwords.memory_kib *= 2;
    raised.passwords.iterations += 1;
    let costs = format!(
        "$m={},t={},p=1$",
        raised.passwords.memory_kib, raised.passwords.iterations
    );
    assert!(!before.contains(&costs));
    let redeployed = TestApp::with_config(raised).await;
    let login = redeployed
        .send(post(
            "/auth/login",
            &json!({"email": email, "password": password}),
        ))
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    let after = stored().await;
    assert!(after.contains(&costs), "{after}");
    // The old costs' service still verifies the new hash (the costs are in the PHC string).
    let again = app
        .send(post(
            "/auth/login",
            &json!({"email": email, "password": password}),
        ))
        .await;
    assert_eq!(again.status, StatusCode::OK);
}

fn bearer(method: Method, path: &str, access: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {access}"))
        .body(Body::empty())
        .unwrap()
}

/// A user lists their live sessions (their own marked), revokes one, then all: each revocation
/// takes effect at once, on every instance (another auth instance and tools-write here).
#[tokio::test]
async fn a_user_lists_revokes_one_and_revokes_all_of_their_sessions() {
    let app = TestApp::start().await;
    let (email, password) = register(&app).await;
    let laptop = login(&app, &email, &password).await;
    let phone = login(&app, &email, &password).await;
    let tablet = login(&app, &email, &password).await;
    let (stranger, stranger_password) = register(&app).await;
    let other = login(&app, &stranger, &stranger_password).await;
    let access = |tokens: &Value| tokens["accessToken"].as_str().unwrap().to_owned();

    let listed = app
        .send(bearer(Method::GET, "/auth/sessions", &access(&laptop)))
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    assert_eq!(listed.header("cache-control"), Some("no-store"));
    let items = listed.json()["items"].as_array().unwrap().clone();
    let ids: Vec<&str> = items
        .iter()
        .map(|s| s["sessionId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [&tablet, &phone, &laptop].map(|t| t["sessionId"].as_str().unwrap()),
        "newest first, only the caller's"
    );
    let current: Vec<bool> = items
        .iter()
        .map(|s| s["current"].as_bool().unwrap())
        .collect();
    assert_eq!(current, [false, false, true]);

    // Revoking someone else's session, or a made-up one, is a 404 and changes nothing.
    for id in [
        other["sessionId"].as_str().unwrap().to_owned(),
        Uuid::now_v7().to_string(),
    ] {
        let refused = app
            .send(bearer(
                Method::DELETE,
                &format!("/auth/sessions/{id}"),
                &access(&laptop),
            ))
            .await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.text());
    }
    assert_eq!(session(&app, &access(&other)).await.status, StatusCode::OK);

    let phone_id = phone["sessionId"].as_str().unwrap();
    let revoked = app
        .send(bearer(
            Method::DELETE,
            &format!("/auth/sessions/{phone_id}"),
            &access(&laptop),
        ))
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.text());
    let elsewhere = app.beside(&integration_tests::redis_url()).await;
    assert_unauthorized(&session(&elsewhere, &access(&phone)).await);
    assert_unauthorized(&refresh(&app, phone["refreshToken"].as_str().unwrap()).await);
    let write = app
        .send(json_request(
            Method::POST,
            "/tools",
            &tool_body("revoked"),
            Some(&access(&phone)),
        ))
        .await;
    assert_unauthorized(&write);
    assert_eq!(session(&app, &access(&tablet)).await.status, StatusCode::OK);

    let all = app
        .send(bearer(Method::POST, "/auth/logout-all", &access(&tablet)))
        .await;
    assert_eq!(all.status, StatusCode::NO_CONTENT, "{}", all.text());
    for tokens in [&laptop, &tablet] {
        assert_unauthorized(&session(&app, &access(tokens)).await);
        assert_unauthorized(&session(&elsewhere, &access(tokens)).await);
        assert_unauthorized(&refresh(&app, tokens["refreshToken"].as_str().unwrap()).await);
    }
    assert_eq!(
        session(&app, &access(&other)).await.status,
        StatusCode::OK,
        "another user's sessions live on"
    );
}

/// Ended sessions are deleted with their refresh tokens once past the retention, by auth
/// (whose database user may delete exactly those rows); live ones stay.
#[tokio::test]
async fn sessions_ended_past_the_retention_are_deleted_with_their_refresh_tokens() {
    let app = TestApp::start().await;
    let (email, password) = register(&app).await;
    let ended = login(&app, &email, &password).await;
    let live = login(&app, &email, &password).await;
    assert_eq!(
        logout(&app, ended["accessToken"].as_str().unwrap())
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let rows = |table: &'static str, id: String| {
        let db = &app.db;
        async move {
            #[derive(serde::Deserialize)]
            struct Count {
                n: i64,
            }
            let column = if table == "sessions" {
                "id"
            } else {
                "session_id"
            };
            let counts: Vec<Count> = db
                .query(
                    &format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = :id"),
                    vec![shared::store::param("id", id)],
                )
                .await
                .unwrap();
            counts[0].n
        }
    };
    let id = |tokens: &Value| tokens["sessionId"].as_str().unwrap().to_owned();
    assert_eq!(rows("refresh_tokens", id(&ended)).await, 1);
    // The logout is made older than the retention.
    app.db
        .execute(
            "UPDATE sessions SET revoked_at = revoked_at - :age WHERE id = :id",
            vec![
                shared::store::param("id", id(&ended)),
                shared::store::param(
                    "age",
                    app.config.auth.session_retention.as_millis() as i64 + 1_000,
                ),
            ],
        )
        .await
        .unwrap();
    // Pruning runs on one login in sixteen: logins until it has.
    for _ in 0..400 {
        if rows("sessions", id(&ended)).await == 0 {
            break;
        }
        login(&app, &email, &password).await;
    }
    assert_eq!(rows("sessions", id(&ended)).await, 0, "pruned");
    assert_eq!(
        rows("refresh_tokens", id(&ended)).await,
        0,
        "with its refresh tokens"
    );
    assert_eq!(rows("sessions", id(&live)).await, 1, "a live session stays");
}

/// The reuse grace counts from the rotation's commit, by the database's clock, not from when
/// the request began: a rotation whose statements took longer than the grace window is still
/// retried within it by a client that lost its answer.
#[tokio::test]
async fn a_slow_rotation_counts_its_grace_from_its_commit() {
    let app = TestApp::start().await;
    let grace = app.config.auth.refresh_reuse_grace;
    let (email, password) = register(&app).await;
    let tokens = login(&app, &email, &password).await;
    let presented = tokens["refreshToken"].as_str().unwrap();
    // The successor's insert answers late: the rotation ends more than the grace window after
    // the request began.
    app.emulator.add_fault(FaultRule::delay(
        Operation::Execute,
        Some("INSERT"),
        grace + Duration::from_millis(500),
        1,
    ));
    let first = refresh(&app, presented).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let retried = refresh(&app, presented).await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.text());
    assert_eq!(
        retried.json()["refreshToken"],
        first.json()["refreshToken"],
        "the same successor, and the session lives"
    );
    assert_eq!(
        session(&app, first.json()["accessToken"].as_str().unwrap())
            .await
            .status,
        StatusCode::OK
    );
}
