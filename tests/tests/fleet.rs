//! Guarantees that hold across a fleet of Lambda environments, each with its own Redis connection,
//! breaker and Data API client: fill leases, writes that retire only the pages they can change,
//! invalidations kept in the outbox until Redis takes them and applied again when Redis lost them
//! (both by the sweeper; a reader whose Redis call failed owes nothing), and writes that stay
//! exact when the Data API's answers are lost or late.

use std::sync::Arc;
use std::time::{Duration, Instant};

use data_api_emulator::{FaultRule, Operation};
use http::{Method, StatusCode};
use integration_tests::{refused_url, test_config, tool_body, Instance, OwnedRedis, TestApp};
use serde_json::{json, Value};
use uuid::Uuid;

/// Sends the same read from every instance at once.
async fn read_everywhere(instances: &[Arc<Instance>], path: &str) -> Vec<(StatusCode, String)> {
    let tasks: Vec<_> = instances
        .iter()
        .map(|instance| {
            let (instance, path) = (instance.clone(), path.to_owned());
            tokio::spawn(async move {
                let read = instance.get(&path).await;
                (read.status, read.cache().to_owned())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

/// Every instance reads `path` at once: all answer 200, for at most 2 Data API statements.
/// Returns the answers and the statements spent.
async fn misses_everywhere(
    app: &TestApp,
    instances: &[Arc<Instance>],
    path: &str,
) -> (Vec<(StatusCode, String)>, u64) {
    let before = app.statements();
    let answers = read_everywhere(instances, path).await;
    let statements = app.statements() - before;
    assert!(
        answers.iter().all(|(status, _)| *status == StatusCode::OK),
        "{path}: {answers:?}"
    );
    assert!(
        statements <= 2,
        "{} misses of {path} cost {statements} statements: {answers:?}",
        instances.len()
    );
    (answers, statements)
}

fn fleet(app: &TestApp, n: usize) -> Vec<Arc<Instance>> {
    (0..n).map(|_| Arc::new(app.instance())).collect()
}

/// Every instance's Data API client has a connection already, as in a warm fleet.
async fn warm(instances: &[Arc<Instance>], path: &str) {
    for instance in instances {
        assert_eq!(instance.get(path).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn sixteen_instances_missing_one_key_cost_at_most_two_statements() {
    let app = TestApp::start().await;
    let (token, owner) = app.user().await;
    let warmer = app.create(&token, &tool_body("warm")).await;
    let tool = app.create(&token, &tool_body("lease")).await;
    let path = format!("/tools/{}", tool["id"].as_str().unwrap());
    let instances = fleet(&app, 16);
    warm(
        &instances,
        &format!("/tools/{}", warmer["id"].as_str().unwrap()),
    )
    .await;

    // One tool key: the writer published it; evict it, as a TTL or memory pressure would.
    let key = app
        .tools
        .cache()
        .keys()
        .tool(tool["id"].as_str().unwrap().parse().unwrap());
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut app.redis().await)
        .await
        .unwrap();
    let (answers, statements) = misses_everywhere(&app, &instances, &path).await;
    assert_eq!(
        answers.iter().filter(|(_, c)| c == "MISS").count() as u64,
        statements
    );

    // One list page, new to everyone.
    let list = format!("/tools?ownerId={owner}&sort=-createdAt");
    misses_everywhere(&app, &instances, &list).await;

    // An unknown id is cached as absent: the second wave of 16 costs nothing.
    let unknown = format!("/tools/{}", Uuid::now_v7());
    let before = app.statements();
    let answers = read_everywhere(&instances, &unknown).await;
    assert!(
        answers
            .iter()
            .all(|(status, _)| *status == StatusCode::NOT_FOUND),
        "{answers:?}"
    );
    assert!(app.statements() - before <= 2);
    let before = app.statements();
    let answers = read_everywhere(&instances, &unknown).await;
    assert!(
        answers.iter().all(|(s, _)| *s == StatusCode::NOT_FOUND),
        "{answers:?}"
    );
    assert_eq!(
        app.statements(),
        before,
        "a cached absence costs no statement"
    );
}

#[tokio::test]
async fn with_redis_down_all_sixteen_instances_still_answer() {
    let live = TestApp::start().await;
    let (token, _) = live.user().await;
    let tool = live.create(&token, &tool_body("down")).await;
    // Same database, Redis refusing connections.
    let down = live.beside(&refused_url()).await;
    let instances = fleet(&down, 16);
    let answers = read_everywhere(
        &instances,
        &format!("/tools/{}", tool["id"].as_str().unwrap()),
    )
    .await;
    assert!(
        answers
            .iter()
            .all(|(s, c)| *s == StatusCode::OK && c == "BYPASS"),
        "{answers:?}"
    );
    let answers = read_everywhere(&instances, "/tools?limit=5").await;
    assert!(answers
        .iter()
        .all(|(s, c)| *s == StatusCode::OK && c == "BYPASS"));
}

/// Polls until every instance reads `revision` of `path`, or panics after `limit`.
async fn until_everyone_reads(
    instances: &[Arc<Instance>],
    path: &str,
    revision: i64,
    limit: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let mut fresh = true;
        for instance in instances {
            let read = instance.get(path).await;
            assert_eq!(read.status, StatusCode::OK);
            if read.json()["revision"].as_i64() != Some(revision) {
                fresh = false;
            }
        }
        if fresh {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "revision {revision} not served everywhere within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Redis holds writes for a second while an update commits: the writer keeps trying (past its
/// breaker) and answers once Redis took it, so no instance serves the old revision afterwards
/// and nothing is left to the sweeper.
#[tokio::test]
async fn a_write_redis_refused_for_a_moment_is_published_before_its_answer() {
    let redis = OwnedRedis::start().await;
    let app = TestApp::with_redis(&redis.url()).await;
    let (token, owner) = app.user().await;
    let tool = app.create(&token, &tool_body("held")).await;
    let path = format!("/tools/{}", tool["id"].as_str().unwrap());
    let list = format!("/tools?ownerId={owner}");
    let instances = fleet(&app, 4);
    for instance in &instances {
        instance.get(&path).await;
        instance.get(&list).await;
    }
    assert_eq!(instances[0].get(&path).await.cache(), "HIT");

    let pause = Duration::from_millis(1_000);
    assert!(pause < app.config.cache.publish_retry);
    redis.pause_writes(pause.as_millis() as u64).await;
    let started = Instant::now();
    let patched = instances[1]
        .send(patch(
            &path,
            &token,
            &json!({"title": "while Redis held writes"}),
        ))
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
    assert!(started.elapsed() >= pause - Duration::from_millis(100));
    assert_eq!(app.pending_invalidations().await, 0, "published, not left");
    for instance in &instances {
        let read = instance.get(&path).await;
        assert_eq!(read.json()["revision"], 2, "{}", read.cache());
        let page = instance.get(&list).await.json();
        assert_eq!(page["items"][0]["revision"], 2);
    }
}

/// Redis holds writes for longer than a writer keeps trying: the outbox carries the write, and
/// one sweep after Redis takes writes again serves it everywhere.
#[tokio::test]
async fn a_write_redis_refused_is_served_everywhere_once_the_sweeper_ran() {
    let redis = OwnedRedis::start().await;
    let app = TestApp::with_redis(&redis.url()).await;
    let (token, owner) = app.user().await;
    let tool = app.create(&token, &tool_body("paused")).await;
    let path = format!("/tools/{}", tool["id"].as_str().unwrap());
    let list = format!("/tools?ownerId={owner}");
    let instances = fleet(&app, 4);
    for instance in &instances {
        instance.get(&path).await;
        instance.get(&list).await;
    }
    assert_eq!(instances[0].get(&path).await.cache(), "HIT");

    // Redis answers reads but holds writes while the update commits and longer than its writer
    // tries: its invalidation stays pending in the outbox, not in the writer's memory (the
    // writer may vanish right after).
    let pause = app.config.cache.publish_retry + Duration::from_millis(1_000);
    redis.pause_writes(pause.as_millis() as u64).await;
    let started = Instant::now();
    let patched = instances[1]
        .send(patch(
            &path,
            &token,
            &json!({"title": "while Redis held writes"}),
        ))
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
    assert_eq!(patched.json()["revision"], 2);
    assert_eq!(app.pending_invalidations().await, 1);
    tokio::time::sleep((pause + Duration::from_millis(100)).saturating_sub(started.elapsed()))
        .await;

    // Redis takes writes again; one sweep and every instance reads the update, tool and lists.
    let mut report = Default::default();
    app.sweeper()
        .drain(&mut report, integration_tests::sweep_deadline())
        .await;
    assert_eq!(report.applied, 1, "{report:?}");
    assert_eq!(app.pending_invalidations().await, 0);
    for instance in &instances {
        let read = instance.get(&path).await;
        assert_eq!(
            read.json()["title"],
            "while Redis held writes",
            "{}",
            read.cache()
        );
        let page = instance.get(&list).await.json();
        assert_eq!(page["items"][0]["revision"], 2);
    }
}

#[tokio::test]
async fn a_writer_that_dies_between_commit_and_publish_is_made_good_by_the_sweeper() {
    let app = TestApp::start().await;
    let (token, _) = app.user().await;
    let (actor, _) = app
        .auth
        .authentication()
        .authenticate(&token)
        .await
        .unwrap();
    let tool = app.create(&token, &tool_body("dies")).await;
    let id: Uuid = tool["id"].as_str().unwrap().parse().unwrap();
    let path = format!("/tools/{id}");
    let instances = fleet(&app, 4);
    for instance in &instances {
        assert_eq!(instance.get(&path).await.json()["revision"], 1);
    }
    // The commit lands; the process is gone before it touches Redis.
    let writer = app.instance();
    let committed = writer
        .write_tools
        .commit_update(
            &actor,
            id,
            &json!({"description": "committed, never published"}),
            None,
            None,
        )
        .await
        .unwrap();
    drop(committed);
    assert_eq!(
        instances[0].get(&path).await.json()["revision"],
        1,
        "stale until swept"
    );
    // The sweeper leaves fresh rows to their writers for a moment, then applies them.
    let mut report = Default::default();
    let sweeper = app.sweeper();
    sweeper
        .drain(&mut report, integration_tests::sweep_deadline())
        .await;
    tokio::time::sleep(app.config.sweeper.min_age).await;
    sweeper
        .drain(&mut report, integration_tests::sweep_deadline())
        .await;
    assert_eq!(report.applied, 1, "{report:?}");
    until_everyone_reads(&instances, &path, 2, Duration::from_millis(1)).await;
    assert_eq!(app.pending_invalidations().await, 0);
}

#[tokio::test]
async fn a_reader_whose_redis_call_failed_owes_nothing_and_retires_no_page() {
    let redis = OwnedRedis::start().await;
    let app = TestApp::with_redis(&redis.url()).await;
    let (token, owner) = app.user().await;
    let tool = app.create(&token, &tool_body("unlucky")).await;
    let path = format!("/tools/{}", tool["id"].as_str().unwrap());
    let pages = [
        "/tools".to_owned(),
        format!("/tools?ownerId={owner}"),
        "/tools?category=testing".to_owned(),
    ];
    let instances = fleet(&app, 8);
    for instance in &instances {
        for page in &pages {
            instance.get(page).await;
        }
    }

    // One instance's call times out (Redis is paused for longer than its response timeout) and
    // its connection is dropped; nothing was lost in Redis.
    redis.pause(600).await;
    let unlucky = instances[0].get(&path).await;
    assert_eq!(unlucky.cache(), "BYPASS");
    tokio::time::sleep(Duration::from_millis(700)).await;

    for (n, instance) in instances.iter().enumerate() {
        for page in &pages {
            let read = instance.get(page).await;
            assert_eq!(read.cache(), "HIT", "instance {n}, {page}");
        }
    }
    assert_eq!(instances[0].get(&path).await.cache(), "HIT");
    assert_eq!(app.pending_invalidations().await, 0);
}

#[tokio::test]
async fn a_writer_whose_connection_died_meanwhile_publishes_on_a_new_one() {
    let mut redis = OwnedRedis::start().await;
    let app = TestApp::with_redis(&redis.url()).await;
    let (token, owner) = app.user().await;
    let tool = app.create(&token, &tool_body("reconnect")).await;
    let path = format!("/tools/{}", tool["id"].as_str().unwrap());
    let list = format!("/tools?ownerId={owner}");
    let reader = app.instance();
    reader.get(&path).await;
    reader.get(&list).await;

    // Redis restarts while the writer is idle: its connection is dead, and it does not know.
    redis.restart().await;
    reader.get(&path).await;
    reader.get(&list).await;
    assert_eq!(reader.get(&list).await.cache(), "HIT");

    let patched = app
        .json(
            Method::PATCH,
            &path,
            &token,
            &json!({"title": "on a new connection"}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(
        app.pending_invalidations().await,
        0,
        "published, not left to the sweeper"
    );
    assert_eq!(
        reader.get(&path).await.json()["title"],
        "on a new connection"
    );
    let page = reader.get(&list).await;
    assert_eq!(
        page.json()["items"][0]["title"],
        "on a new connection",
        "{}",
        page.cache()
    );
}

#[tokio::test]
async fn a_write_retires_the_pages_it_can_change_and_no_other() {
    let app = TestApp::start().await;
    let (token, owner) = app.user().await;
    let mut finance = tool_body("ledger");
    finance["category"] = json!("finance");
    finance["tags"] = json!(["money"]);
    let finance = app.create(&token, &finance).await;
    let mut search = tool_body("finder");
    search["category"] = json!("search");
    search["tags"] = json!(["lookup"]);
    app.create(&token, &search).await;
    let path = format!("/tools/{}", finance["id"].as_str().unwrap());

    let untouched = [
        "/tools?category=search",
        "/tools?tag=lookup",
        "/tools?category=search&status=active",
    ];
    let touched = [
        "/tools".to_owned(),
        "/tools?category=finance".to_owned(),
        "/tools?tag=money".to_owned(),
        "/tools?status=active".to_owned(),
        format!("/tools?ownerId={owner}"),
        "/tools?q=finder&category=search".to_owned(),
    ];
    let instances = fleet(&app, 4);
    for instance in &instances {
        for page in untouched
            .iter()
            .copied()
            .chain(touched.iter().map(String::as_str))
        {
            instance.get(page).await;
        }
    }

    let patched = app
        .json(Method::PATCH, &path, &token, &json!({"title": "moved on"}))
        .await;
    assert_eq!(patched.status, StatusCode::OK);

    for instance in &instances {
        for page in untouched {
            assert_eq!(instance.get(page).await.cache(), "HIT", "{page}");
        }
    }
    for page in &touched {
        let read = instances[0].get(page).await;
        assert_eq!(read.cache(), "MISS", "{page}");
    }
    let page = instances[1].get("/tools?category=finance").await.json();
    assert_eq!(page["items"][0]["title"], "moved on");

    // A move to another category retires the pages of both.
    let moved = app
        .json(Method::PATCH, &path, &token, &json!({"category": "search"}))
        .await;
    assert_eq!(moved.status, StatusCode::OK);
    let search_page = instances[2].get("/tools?category=search").await;
    assert_eq!(search_page.cache(), "MISS");
    assert_eq!(search_page.json()["items"].as_array().unwrap().len(), 2);
    let finance_page = instances[2].get("/tools?category=finance").await;
    assert_eq!(finance_page.cache(), "MISS");
    assert_eq!(finance_page.json()["items"], json!([]));
}

fn patch(path: &str, token: &str, body: &Value) -> http::Request<axum::body::Body> {
    http::Request::patch(path)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn writes_whose_data_api_answers_are_lost_report_the_success_they_were() {
    let app = TestApp::start().await;
    let (token, _) = app.user().await;
    let other = app.instance();
    let cases = [
        (
            "INSERT statement",
            FaultRule::drop_response_of_statement("INSERT", 1),
        ),
        (
            "commit",
            FaultRule::drop_response(Operation::CommitTransaction, 1),
        ),
    ];
    for (what, rule) in cases {
        app.emulator.add_fault(rule);
        let created = app
            .json(Method::POST, "/tools", &token, &tool_body("lost"))
            .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "create, lost {what}: {}",
            created.text()
        );
        let path = format!("/tools/{}", created.json()["id"].as_str().unwrap());
        assert_eq!(
            other.get(&path).await.json(),
            created.json(),
            "create, lost {what}"
        );
    }
    let tool = app.create(&token, &tool_body("lost")).await;
    let path = format!("/tools/{}", tool["id"].as_str().unwrap());
    other.get(&path).await;
    let cases = [
        (
            "UPDATE statement",
            FaultRule::drop_response_of_statement("UPDATE", 1),
        ),
        (
            "commit",
            FaultRule::drop_response(Operation::CommitTransaction, 1),
        ),
        (
            "outbox insert",
            FaultRule::drop_response_of_statement("INSERT", 1),
        ),
    ];
    for (n, (what, rule)) in cases.into_iter().enumerate() {
        app.emulator.add_fault(rule);
        let title = format!("after a lost {what}");
        let patched = app
            .json(Method::PATCH, &path, &token, &json!({"title": title}))
            .await;
        assert_eq!(
            patched.status,
            StatusCode::OK,
            "update, lost {what}: {}",
            patched.text()
        );
        assert_eq!(
            patched.json()["revision"],
            n as i64 + 2,
            "one revision per update"
        );
        let read = other.get(&path).await;
        assert_eq!(
            read.json(),
            patched.json(),
            "update, lost {what} ({})",
            read.cache()
        );
    }
    for (what, rule) in [
        (
            "DELETE statement",
            FaultRule::drop_response_of_statement("DELETE", 1),
        ),
        (
            "commit",
            FaultRule::drop_response(Operation::CommitTransaction, 1),
        ),
    ] {
        let tool = app.create(&token, &tool_body("lost")).await;
        let path = format!("/tools/{}", tool["id"].as_str().unwrap());
        other.get(&path).await;
        app.emulator.add_fault(rule);
        let deleted = app.delete(&path, &token).await;
        assert_eq!(
            deleted.status,
            StatusCode::NO_CONTENT,
            "delete, lost {what}: {}",
            deleted.text()
        );
        assert_eq!(
            other.get(&path).await.status,
            StatusCode::GONE,
            "delete, lost {what}"
        );
    }
    assert!(app.emulator.stats().dropped_responses >= 7);
    assert_eq!(
        app.pending_invalidations().await,
        0,
        "every write applied its invalidation"
    );
    assert_eq!(app.emulator.stats().open_transactions, 0);
}

#[tokio::test]
async fn a_commit_answered_after_the_attempt_timeout_is_still_a_success() {
    let mut config = test_config(&integration_tests::redis_url());
    config.database.budget.attempt_timeout = Duration::from_millis(300);
    let app = TestApp::with_config(config).await;
    let (token, _) = app.user().await;
    let tool = app.create(&token, &tool_body("late")).await;
    let path = format!("/tools/{}", tool["id"].as_str().unwrap());
    app.emulator.add_fault(FaultRule::delay(
        Operation::CommitTransaction,
        None,
        Duration::from_millis(600),
        1,
    ));
    let patched = app
        .json(Method::PATCH, &path, &token, &json!({"title": "late"}))
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
    assert_eq!(app.emulator.stats().delayed_responses, 1);
    assert_eq!(app.get(&path).await.json(), patched.json());
}

#[tokio::test]
async fn a_request_out_of_database_time_answers_503_before_the_function_times_out() {
    let mut config = test_config(&integration_tests::redis_url());
    config.database.budget.request_budget = Duration::from_millis(800);
    let app = TestApp::with_config(config).await;
    app.emulator.set_latency(Duration::from_millis(1_000));
    let started = Instant::now();
    let read = app.get(&format!("/tools/{}", Uuid::now_v7())).await;
    assert_eq!(
        read.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        read.text()
    );
    assert!(read.header("retry-after").is_some());
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "{:?}",
        started.elapsed()
    );
    app.emulator.set_latency(Duration::ZERO);
}

/// The keys of the generations' slot, and of `tools`, as Redis holds them now (`DUMP`).
async fn snapshot(app: &TestApp, tools: &[Uuid], pages: &[&str]) -> Vec<(String, Option<Vec<u8>>)> {
    let keys = app.tools.cache().keys();
    let mut names = vec![
        keys.list_epoch(),
        keys.applied_watermark(),
        keys.applied_evidence(),
    ];
    for page in pages {
        let query = shared::domain::ListQuery::parse(Some(page)).unwrap();
        names.push(keys.list_generation(&shared::cache::scopes::of_page(&query)));
        names.push(keys.list_page(&query));
    }
    for id in tools {
        names.push(keys.tool(*id));
        names.push(keys.tool_write_marker(*id));
    }
    let mut direct = app.redis().await;
    let mut dumped = Vec::new();
    for name in names {
        let value: Option<Vec<u8>> = redis::cmd("DUMP")
            .arg(&name)
            .query_async(&mut direct)
            .await
            .unwrap();
        dumped.push((name, value));
    }
    dumped
}

/// Puts every key of `snapshot` back as it was (key by key: in cluster mode they live in
/// several slots), as a Redis restarted from that snapshot, or a replica promoted before it
/// received what came after, would hold it.
async fn restore(app: &TestApp, snapshot: &[(String, Option<Vec<u8>>)]) {
    let mut direct = app.redis().await;
    for (name, value) in snapshot {
        let _: () = match value {
            Some(value) => redis::cmd("RESTORE")
                .arg(name)
                .arg(0)
                .arg(value)
                .arg("REPLACE")
                .query_async(&mut direct)
                .await
                .unwrap(),
            None => redis::cmd("DEL")
                .arg(name)
                .query_async::<i64>(&mut direct)
                .await
                .map(drop)
                .unwrap(),
        };
    }
}

/// One sweep, as the scheduled sweeper polls: pending invalidations, then what Redis lost.
async fn sweep(app: &TestApp) -> cache_sweeper::SweepReport {
    let mut report = Default::default();
    app.sweeper()
        .drain(&mut report, integration_tests::sweep_deadline())
        .await;
    report
}

/// How a Redis loses its last write.
#[derive(Clone, Copy, Debug)]
enum Loss {
    /// Its keys go back to an older state and every connection stays up, as behind a proxy that
    /// keeps them (ElastiCache Serverless): no instance notices anything.
    Unnoticed,
    /// It restarts from a snapshot taken before the write: every connection drops.
    Restart,
}

/// A Redis that lost the last write heals in one sweep, on every instance, for the tool and its
/// pages, and the sweep finds exactly that write.
async fn a_redis_that_lost_the_last_write_heals_in_one_sweep(loss: Loss) {
    let mut redis = OwnedRedis::start().await;
    let app = TestApp::with_redis(&redis.url()).await;
    let (token, owner) = app.user().await;
    let category = format!("c-{}", owner.simple());
    let mut body = tool_body("lost");
    body["category"] = json!(category);
    let tool = app.create(&token, &body).await;
    let id: Uuid = tool["id"].as_str().unwrap().parse().unwrap();
    let path = format!("/tools/{id}");
    let pages = [format!("ownerId={owner}"), format!("category={category}")];
    let instances = fleet(&app, 4);
    for instance in &instances {
        instance.get(&path).await;
        for page in &pages {
            instance.get(&format!("/tools?{page}")).await;
        }
    }
    tokio::time::sleep(app.config.sweeper.min_age).await;
    sweep(&app).await;
    assert!(app
        .tools
        .cache()
        .applied_watermark()
        .await
        .unwrap()
        .is_some());

    // What the older state holds: everything before the next write.
    let page_queries: Vec<&str> = pages.iter().map(String::as_str).collect();
    let older = snapshot(&app, &[id], &page_queries).await;
    redis.save().await;

    // The write is published and marked applied...
    let patched = app
        .json(Method::PATCH, &path, &token, &json!({"title": "after"}))
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(app.pending_invalidations().await, 0);

    // ...and Redis comes back in its older state: the old tool, no marker, the old generations
    // and pages, the old watermark.
    match loss {
        Loss::Unnoticed => restore(&app, &older).await,
        Loss::Restart => redis.restart().await,
    }
    let stale = instances[0].get(&path).await;
    if stale.cache() == "HIT" {
        assert_eq!(
            stale.json()["title"],
            json!(null),
            "the older state is served until swept"
        );
    }

    tokio::time::sleep(app.config.sweeper.min_age).await;
    let report = sweep(&app).await;
    assert_eq!(report.replayed, 1, "{report:?}");
    for instance in &instances {
        let read = instance.get(&path).await;
        assert_eq!(
            read.json()["title"],
            "after",
            "lost revision served ({})",
            read.cache()
        );
        for page in &pages {
            let read = instance.get(&format!("/tools?{page}")).await;
            assert_eq!(
                read.json()["items"][0]["title"],
                "after",
                "{page}: stale list ({})",
                read.cache()
            );
        }
    }
    assert_eq!(instances[0].get(&path).await.cache(), "HIT");
    let again = sweep(&app).await;
    assert_eq!(again.replayed, 0, "found exactly once: {again:?}");
}

#[tokio::test]
async fn a_redis_whose_keys_went_back_to_an_older_state_heals_in_one_sweep_though_nobody_noticed() {
    a_redis_that_lost_the_last_write_heals_in_one_sweep(Loss::Unnoticed).await;
}

#[tokio::test]
async fn a_redis_restarted_from_an_older_snapshot_heals_in_one_sweep() {
    a_redis_that_lost_the_last_write_heals_in_one_sweep(Loss::Restart).await;
}

#[tokio::test]
async fn an_emptied_redis_gets_its_watermark_back_and_serves_the_last_write() {
    let redis = OwnedRedis::start().await;
    let app = TestApp::with_redis(&redis.url()).await;
    let (token, owner) = app.user().await;
    let tool = app.create(&token, &tool_body("emptied")).await;
    let path = format!("/tools/{}", tool["id"].as_str().unwrap());
    let list = format!("/tools?ownerId={owner}");
    let reader = app.instance();
    reader.get(&path).await;
    reader.get(&list).await;
    let patched = app
        .json(Method::PATCH, &path, &token, &json!({"title": "kept"}))
        .await;
    assert_eq!(patched.status, StatusCode::OK);

    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut app.redis().await)
        .await
        .unwrap();
    assert_eq!(app.tools.cache().applied_watermark().await.unwrap(), None);
    tokio::time::sleep(app.config.sweeper.min_age).await;
    let report = sweep(&app).await;
    assert_eq!(report.failures, 0, "{report:?}");
    assert!(
        report.replayed >= 2,
        "the writes a late fill could have undone are applied again: {report:?}"
    );
    assert!(app
        .tools
        .cache()
        .applied_watermark()
        .await
        .unwrap()
        .is_some());
    assert_eq!(reader.get(&path).await.json()["title"], "kept");
    assert_eq!(reader.get(&list).await.json()["items"][0]["title"], "kept");
    assert_eq!(sweep(&app).await.replayed, 0);
}
