//! The cache sweeper's schedule: runs that overlap drain one at a time and hand over, a drain
//! stops at its run's end, and a large backlog drains within one run; the quiet mode issues no
//! statement while nothing is written, and wakes for a write that began or a Redis failure.

use std::time::{Duration, SystemTime};

use cache_sweeper::{SweepReport, LEASE_POLLS};
use http::Method;
use integration_tests::{tool_body, OwnedRedis, TestApp};
use serde_json::json;
use shared::config::{SweeperConfig, SweeperMode};
use tokio::time::Instant;
use uuid::Uuid;

const POLL: Duration = Duration::from_millis(100);

/// A schedule polling every [`POLL`] for `run_for`, applying rows as soon as they are recorded.
fn schedule(app: &TestApp, run_for: Duration) -> SweeperConfig {
    SweeperConfig {
        poll_interval: POLL,
        run_for,
        min_age: Duration::ZERO,
        ..app.config.sweeper.clone()
    }
}

/// Records `n` pending invalidations (of tools nobody caches), as writers whose publish failed.
async fn record_pending(app: &TestApp, n: usize) {
    for start in (0..n).step_by(1_000) {
        let rows = vec![
            "(UUID(), UUID(), 1, CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED))";
            (n - start).min(1_000)
        ];
        app.db
            .execute(
                &format!(
                    "INSERT INTO cache_outbox (write_id, tool_id, revision, created_at) VALUES {}",
                    rows.join(", ")
                ),
                vec![],
            )
            .await
            .expect("recording pending invalidations");
    }
}

/// A deadline far enough that a run ends at its own length.
fn far_deadline() -> SystemTime {
    SystemTime::now() + Duration::from_secs(120)
}

#[tokio::test]
async fn a_backlog_of_ten_thousand_drains_within_one_run() {
    let app = TestApp::start().await;
    record_pending(&app, 10_000).await;
    let run_for = Duration::from_secs(8);
    let started = Instant::now();
    let report = app
        .sweeper_with(schedule(&app, run_for))
        .run(far_deadline())
        .await;
    assert!(
        started.elapsed() < run_for + Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!((report.applied, report.failures), (10_000, 0), "{report:?}");
    assert_eq!(app.pending_invalidations().await, 0);
}

/// `cargo lambda watch` (`make dev`) hands the sweeper a deadline of 600000 epoch milliseconds:
/// the run still lasts its own length and drains.
#[tokio::test]
async fn a_deadline_already_past_is_not_an_invocations_and_the_run_drains() {
    let app = TestApp::start().await;
    record_pending(&app, 10).await;
    let run_for = Duration::from_millis(500);
    let started = Instant::now();
    let report = app
        .sweeper_with(schedule(&app, run_for))
        .run(SystemTime::UNIX_EPOCH + Duration::from_millis(600_000))
        .await;
    assert!(
        started.elapsed() >= run_for - POLL,
        "{:?}",
        started.elapsed()
    );
    assert_eq!((report.applied, report.failures), (10, 0), "{report:?}");
    assert_eq!(app.pending_invalidations().await, 0);
}

#[tokio::test]
async fn a_drain_stops_at_its_end_and_leaves_the_rest_pending() {
    let app = TestApp::start().await;
    record_pending(&app, 10_000).await;
    let sweeper = app.sweeper_with(schedule(&app, Duration::from_secs(60)));
    let mut report = SweepReport::default();
    let started = Instant::now();
    sweeper
        .drain(&mut report, started + Duration::from_millis(200))
        .await;
    // It ends after the batch during which its end passed.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(0 < report.applied && report.applied < 10_000, "{report:?}");
    assert_eq!(
        app.pending_invalidations().await,
        10_000 - report.applied as i64
    );
}

#[tokio::test]
async fn overlapping_runs_drain_one_at_a_time_and_hand_over() {
    let app = TestApp::start().await;
    let first = app.sweeper_with(schedule(&app, Duration::from_millis(1_500)));
    let second = app.sweeper_with(schedule(&app, Duration::from_millis(3_000)));
    let first = tokio::spawn(async move { first.run(far_deadline()).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = tokio::spawn(async move { second.run(far_deadline()).await });
    // Recorded once the first run has ended: the second applies it.
    tokio::time::sleep(Duration::from_millis(1_700)).await;
    record_pending(&app, 1).await;
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!(first.waited, 0, "{first:?}");
    assert!(first.rounds >= 10, "{first:?}");
    // It waited while the first held the lease (about 10 polls), then drained (about 15).
    assert!(second.waited >= 5, "{second:?}");
    assert!(second.rounds >= 5, "{second:?}");
    assert_eq!(second.applied, 1, "{second:?}");
    assert_eq!(app.pending_invalidations().await, 0);
}

#[tokio::test]
async fn a_holder_that_stops_renewing_is_replaced_within_a_few_polls() {
    let app = TestApp::start().await;
    // A run frozen right after it took the lease.
    let frozen = Uuid::new_v4();
    assert!(app
        .tools
        .cache()
        .hold_sweeper_lease(frozen, POLL * LEASE_POLLS)
        .await
        .unwrap());
    record_pending(&app, 1).await;
    let report = app
        .sweeper_with(schedule(&app, Duration::from_millis(1_000)))
        .run(far_deadline())
        .await;
    assert!((1..=LEASE_POLLS + 1).contains(&report.waited), "{report:?}");
    assert_eq!(report.applied, 1, "{report:?}");
}

/// The quiet mode over `schedule`, settling after `settle`.
fn quiet(app: &TestApp, run_for: Duration, settle: Duration) -> SweeperConfig {
    SweeperConfig {
        mode: SweeperMode::Quiet,
        settle,
        ..schedule(app, run_for)
    }
}

const SETTLE: Duration = Duration::from_millis(300);

#[tokio::test]
async fn a_quiet_sweeper_issues_no_statement_until_a_write_begins() {
    let app = TestApp::start().await;
    // No record of a drain that left nothing: it drains until the count settles, then records it.
    let first = app
        .sweeper_with(quiet(&app, Duration::from_millis(1_000), SETTLE))
        .run(far_deadline())
        .await;
    assert!(first.rounds >= 3 && first.quiet >= 3, "{first:?}");

    // Idle: a whole run reaches Redis only.
    let before = app.statements();
    let idle = app
        .sweeper_with(quiet(&app, Duration::from_millis(600), SETTLE))
        .run(far_deadline())
        .await;
    assert_eq!(app.statements(), before, "{idle:?}");
    assert_eq!(idle.rounds, 0, "{idle:?}");
    assert!(idle.quiet >= 5, "{idle:?}");

    // A writer that died between its commit and its publish counted itself in first: the next
    // run drains, applies it, and goes quiet again.
    let (token, _) = app.user().await;
    let (actor, _) = app
        .auth
        .authentication()
        .authenticate(&token)
        .await
        .unwrap();
    let tool = app.create(&token, &tool_body("quiet")).await;
    let id: Uuid = tool["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(app.get(&format!("/tools/{id}")).await.status, 200);
    let _ = app
        .instance()
        .write_tools
        .commit_delete(&actor, id, None)
        .await
        .unwrap();
    assert_eq!(app.pending_invalidations().await, 1);
    let woken = app
        .sweeper_with(quiet(&app, Duration::from_millis(1_200), SETTLE))
        .run(far_deadline())
        .await;
    assert_eq!((woken.applied, woken.failures), (1, 0), "{woken:?}");
    assert!(woken.quiet >= 3, "settled again: {woken:?}");
    assert_eq!(app.get(&format!("/tools/{id}")).await.status, 410);

    // Redis loses this deployment's record of what it applied (emptied, failed over to a
    // replica that missed it): a reason to drain, then quiet again.
    let generations = format!("{}:lists:{{gen}}", app.config.cache.prefix);
    let _: i64 = redis::cmd("DEL")
        .arg(format!("{generations}:applied"))
        .arg(format!("{generations}:writes-begun"))
        .arg(format!("{generations}:writes-swept"))
        .query_async(&mut app.redis().await)
        .await
        .unwrap();
    let after_loss = app
        .sweeper_with(quiet(&app, Duration::from_millis(1_000), SETTLE))
        .run(far_deadline())
        .await;
    assert!(
        after_loss.rounds >= 3 && after_loss.quiet >= 3,
        "{after_loss:?}"
    );
}

#[tokio::test]
async fn a_write_made_while_redis_was_down_wakes_a_quiet_sweeper_that_saw_it_fail() {
    let mut redis = OwnedRedis::start().await;
    let app = TestApp::with_redis(&redis.url()).await;
    let (token, _) = app.user().await;
    let tool = app.create(&token, &tool_body("outage")).await;
    let id = tool["id"].as_str().unwrap().to_owned();
    let settled = app
        .sweeper_with(quiet(&app, Duration::from_millis(1_000), SETTLE))
        .run(far_deadline())
        .await;
    assert!(settled.quiet >= 3, "{settled:?}");
    // Its writer cached it.
    assert_eq!(app.get(&format!("/tools/{id}")).await.cache(), "HIT");
    // Restarted from this snapshot, Redis holds the old tool, its watermark and the record of
    // a clean drain: only the failure the sweeper saw says that something may be missing.
    redis.save().await;

    // Long enough to outlast the writer's publish retries while Redis is down.
    let run_for = Duration::from_millis(3_000) + app.config.cache.publish_retry;
    let sweeper = app.sweeper_with(quiet(&app, run_for, SETTLE));
    let run = tokio::spawn(async move { sweeper.run(far_deadline()).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.stop();
    // Neither its count-in nor its publish reaches Redis: the outbox carries it.
    let renamed = app
        .json(
            Method::PATCH,
            &format!("/tools/{id}"),
            &token,
            &json!({"description": "written while redis was down"}),
        )
        .await;
    assert_eq!(renamed.status, 200);
    assert_eq!(app.pending_invalidations().await, 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.restart().await;
    let report = run.await.unwrap();
    assert_eq!(report.applied, 1, "{report:?}");
    assert!(report.failures >= 1, "{report:?}");
    let read = app.get(&format!("/tools/{id}")).await;
    assert_eq!(read.json()["description"], "written while redis was down");
}
