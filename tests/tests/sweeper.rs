//! The cache sweeper's schedule: runs that overlap drain one at a time and hand over, a drain
//! stops at its run's end, and a large backlog drains within one run.

use std::time::{Duration, SystemTime};

use cache_sweeper::{SweepReport, LEASE_POLLS};
use integration_tests::TestApp;
use shared::config::SweeperConfig;
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
