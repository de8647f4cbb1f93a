//! Cache outcomes, Redis and Data API errors and latency, and the sweeper's outbox backlog, are emitted as
//! CloudWatch Embedded Metric Format lines; a request's line is its only access log line.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use data_api_emulator::InjectedError;
use integration_tests::{tool_body, OwnedRedis, TestApp};
use serde_json::Value;
use shared::config::SweeperConfig;

/// Every log event of this test binary, as text (the subscriber is process-wide).
fn logged() -> Arc<Mutex<Vec<u8>>> {
    static LOGGED: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGGED
        .get_or_init(|| {
            let logged = Arc::new(Mutex::new(Vec::new()));
            let writer = logged.clone();
            tracing_subscriber::fmt()
                .with_ansi(false)
                .with_writer(move || Log(writer.clone()))
                .init();
            logged
        })
        .clone()
}

struct Log(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every metric line of this test binary (the sink is process-wide).
fn captured() -> Arc<Mutex<Vec<String>>> {
    static LINES: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();
    LINES
        .get_or_init(|| {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let sink = lines.clone();
            shared::metrics::capture(move |line| sink.lock().unwrap().push(line.to_owned()));
            lines
        })
        .clone()
}

#[tokio::test]
async fn requests_emit_emf_lines_with_cache_outcomes_and_redis_errors() {
    let lines = captured();
    let logged = logged();

    let mut redis = OwnedRedis::start().await;
    let app = TestApp::with_redis(&redis.url()).await;
    let (token, _) = app.user().await;
    let tool = app.create(&token, &tool_body("metrics")).await;
    let path = format!("/tools/{}", tool["id"].as_str().unwrap());
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
    assert_eq!(app.get(&path).await.cache(), "MISS");
    assert_eq!(app.get(&path).await.cache(), "HIT");
    redis.stop();
    assert_eq!(app.get(&path).await.cache(), "BYPASS");
    // The Data API throttles every attempt of the next miss's call: a 503, counted.
    app.emulator.fail_next(
        app.config.database.budget.max_attempts,
        InjectedError::Throttling,
    );
    let missing = format!("/tools/{}", uuid::Uuid::now_v7());
    assert_eq!(app.get(&missing).await.status, 503);

    let lines = lines.lock().unwrap().clone();
    let records: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    let reads: Vec<&Value> = records
        .iter()
        .filter(|r| r["Route"] == "GET /tools/{id}")
        .collect();
    assert_eq!(reads.len(), 4, "{lines:#?}");
    for record in &records {
        let directive = &record["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "McpRegistry");
        assert!(record["_aws"]["Timestamp"].as_u64().unwrap() > 1_700_000_000_000);
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(record[name].is_number(), "{name} has a value");
        }
        for dimensions in directive["Dimensions"].as_array().unwrap() {
            for dimension in dimensions.as_array().unwrap() {
                assert!(record[dimension.as_str().unwrap()].is_string());
            }
        }
    }
    let outcome = |r: &Value| {
        (
            r["CacheMiss"].as_u64(),
            r["CacheHit"].as_u64(),
            r["CacheBypass"].as_u64(),
        )
    };
    assert_eq!(outcome(reads[0]), (Some(1), Some(0), Some(0)));
    let cache: Vec<&Value> = reads.iter().map(|r| &r["Cache"]).collect();
    assert_eq!(
        cache,
        ["MISS", "HIT", "BYPASS", "-"],
        "the line is the access log"
    );
    let logged = String::from_utf8(logged.lock().unwrap().clone()).unwrap();
    assert!(
        !logged.lines().any(|line| line.contains("route=")),
        "a second access log line: {logged}"
    );
    assert_eq!(outcome(reads[1]), (Some(0), Some(1), Some(0)));
    assert_eq!(outcome(reads[2]), (Some(0), Some(0), Some(1)));
    assert!(
        reads[2]["RedisErrors"].as_u64().unwrap() >= 1,
        "the failed Redis call is counted"
    );
    let database = |r: &Value| {
        (
            r["DatabaseErrors"].as_u64(),
            r["DatabaseThrottles"].as_u64(),
        )
    };
    assert_eq!(database(reads[0]), (Some(0), Some(0)));
    assert_eq!(reads[3]["StatusCode"], 503);
    assert_eq!(
        database(reads[3]),
        (Some(1), Some(1)),
        "the throttled call is counted once, as a throttle"
    );
    assert!(reads.iter().all(|r| r["Latency"].as_f64().unwrap() > 0.0));
    assert!(records
        .iter()
        .any(|r| r["Route"] == "POST /tools" && r["StatusCode"] == 201));
}

#[tokio::test]
async fn each_sweeper_poll_reports_the_outbox_backlog() {
    let lines = captured();
    let app = TestApp::start().await;
    let (token, _) = app.user().await;
    let (actor, _) = app
        .auth
        .authentication()
        .authenticate(&token)
        .await
        .unwrap();
    let tool = app.create(&token, &tool_body("backlog")).await;
    // A writer that died after its commit leaves its invalidation pending.
    let _ = app
        .instance()
        .write_tools
        .commit_delete(&actor, tool["id"].as_str().unwrap().parse().unwrap(), None)
        .await
        .unwrap();
    // A sweeper that leaves rows younger than a minute to their writers: the row stays pending.
    let schedule = SweeperConfig {
        poll_interval: Duration::from_millis(100),
        run_for: Duration::from_millis(350),
        min_age: Duration::from_secs(60),
        ..app.config.sweeper.clone()
    };
    let report = app
        .sweeper_with(schedule)
        .run(SystemTime::now() + Duration::from_secs(60))
        .await;
    assert!(report.rounds >= 3, "{report:?}");
    // (Only this test of the binary runs a sweeper.)
    let backlog: Vec<Value> = lines
        .lock()
        .unwrap()
        .iter()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|record| record.get("OutboxPending").is_some())
        .collect();
    assert_eq!(backlog.len(), report.rounds as usize, "one line a drain");
    for record in &backlog {
        let directive = &record["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Dimensions"], serde_json::json!([["Service"]]));
        assert_eq!(
            directive["Metrics"],
            serde_json::json!([
                {"Name": "OutboxPending", "Unit": "Count"},
                {"Name": "OutboxOldestAge", "Unit": "Milliseconds"},
            ])
        );
        assert_eq!(record["OutboxPending"], 1, "{record}");
        let age = record["OutboxOldestAge"].as_u64().unwrap();
        assert!(age < 60_000, "{record}");
    }
}
