//! `cache-sweeper`: applies the cache invalidations that committed writes recorded in the outbox
//! and Redis has not taken yet (it refused writes, was unreachable, or the writer died between its
//! commit and its publish), applies again those Redis lost (it restarted from an older snapshot,
//! failed over to a replica that missed them, was emptied: found past its watermark), then prunes
//! applied ones.
//!
//! EventBridge starts a run every minute and each run polls for `SWEEPER_RUN_SECS`, longer than
//! the minute, so the next run has started before the last one ends. One run at a time drains: the
//! one holding the sweeper's lease in Redis, renewed on every poll (each `SWEEPER_POLL_MS`) for
//! [`LEASE_POLLS`] polls. A run that finds the lease held waits for it; the holder gives it up as
//! it ends, or loses it a few polls after it was frozen or killed. So every moment of every minute
//! has a run polling, and a pending invalidation waits about one poll past its minimum age. Each
//! drain stops at its run's end, whatever is left (the next run goes on from there). Two runs
//! that drain at once (a lease lost in a failover) are harmless: applying an invalidation twice
//! is a no-op, the revision guard keeping newer entries.
//!
//! Each poll emits the outbox backlog (`OutboxPending`, `OutboxOldestAge`): the figure that says
//! readers may be served stale data.
//!
//! In the quiet mode (`SWEEPER_MODE=quiet`, the template's low-cost profile) a poll reaches the
//! database only when Redis gives a reason: writers count themselves in before their
//! transactions, and a poll whose count matches the last drain that left nothing (and whose
//! Redis still has its watermark) issues no statement, so an idle Aurora can pause. See
//! [`Sweeper::poll`] for when it drains and for how long.

use std::time::{Duration, SystemTime};

use serde::Serialize;
use shared::config::{Config, SweeperConfig, SweeperMode};
use shared::domain::Timestamp;
use shared::services::ToolService;
use tokio::time::Instant;
use uuid::Uuid;

/// Time left before the function's deadline when a run stops polling.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// Polls a lease lasts without renewal: a frozen or killed holder is replaced this soon.
pub const LEASE_POLLS: u32 = 3;

/// What one run did (its invocation's result, visible in the logs and to `cargo lambda invoke`).
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Drains performed.
    pub rounds: u32,
    /// Polls spent waiting for another run's lease.
    pub waited: u32,
    /// Pending invalidations applied.
    pub applied: usize,
    /// Invalidations Redis had lost, applied again.
    pub replayed: usize,
    /// Applied outbox rows pruned.
    pub pruned: i64,
    /// Idempotency keys past their retention pruned.
    pub pruned_keys: i64,
    /// Tombstones of deleted tools past their retention pruned.
    pub pruned_tombstones: i64,
    /// Polls that stopped early (Redis or the database failed; the rest stays pending).
    pub failures: u32,
    /// Polls of the quiet mode that had no reason to reach the database.
    pub quiet: u32,
}

/// What a run of the quiet mode watches between polls.
#[derive(Default)]
struct Watch {
    /// Redis or a drain failed since this run last recorded it in Redis.
    failed: bool,
    /// The writes-begun count being settled, and since when it has not moved.
    settling: Option<(i64, Instant)>,
    /// The highest writes-begun count this run has read: a lower one means Redis went back to
    /// an older state (a failover to a replica that missed writes), which is a loss.
    highest_begun: i64,
}

/// The sweeper: the tool service's outbox replay on a schedule.
pub struct Sweeper {
    tools: ToolService,
    config: SweeperConfig,
}

impl Sweeper {
    /// A sweeper over `tools`.
    pub fn new(tools: ToolService, config: SweeperConfig) -> Self {
        Self { tools, config }
    }

    /// The production wiring.
    pub fn from_config(config: &Config) -> Self {
        Self::new(ToolService::from_config(config), config.sweeper.clone())
    }

    /// One drain: emits the backlog; applies the pending invalidations older than the minimum
    /// age (younger ones are being applied by their writers) if there are any, then those Redis
    /// lost (past its watermark), until none is left or `until` has passed; then prunes applied
    /// rows past their retention. Three statements when nothing is pending or lost. Returns
    /// whether it found nothing to apply and nothing failed: the outbox was drained already.
    pub async fn drain(&self, report: &mut SweepReport, until: Instant) -> bool {
        let failures = report.failures;
        let replayed = report.replayed;
        report.rounds += 1;
        let min_age = self.config.min_age;
        let pending = self.report_backlog().await;
        let replay = async {
            if pending == Some(0) {
                return Ok(0);
            }
            self.tools.replay_invalidations(min_age, until).await
        };
        match replay.await {
            Ok(applied) => {
                report.applied += applied;
                if applied > 0 {
                    tracing::info!(applied, "pending cache invalidations applied");
                }
            }
            Err(error) => {
                report.failures += 1;
                tracing::warn!(%error, "pending cache invalidations not applied; retrying");
            }
        }
        match self.tools.replay_lost(min_age, until).await {
            Ok(replayed) => {
                report.replayed += replayed;
                if replayed > 0 {
                    tracing::warn!(
                        replayed,
                        "redis had lost cache invalidations: applied again"
                    );
                }
            }
            Err(error) => {
                report.failures += 1;
                tracing::warn!(%error, "redis's watermark not checked; retrying");
            }
        }
        match self.tools.prune_invalidations(self.config.retention).await {
            Ok(pruned) => report.pruned += pruned,
            Err(error) => tracing::warn!(%error, "outbox not pruned"),
        }
        pending == Some(0) && report.replayed == replayed && report.failures == failures
    }

    /// One poll of a run holding the lease. The steady mode drains. The quiet mode drains only
    /// when Redis says the database may hold something: a write began since the last drain that
    /// left nothing (a writer's, or a failure a run saw and counted as one), or that record is
    /// gone (Redis lost its data). It then drains on every poll until the writes-begun count has not moved for
    /// `SWEEPER_SETTLE_MS` (longer than a write takes from its count-in to its commit) and a
    /// drain that began after that found nothing to apply, and records that count as swept. A
    /// count lower than one this run read is a loss too (Redis went back to an older state).
    async fn poll(&self, report: &mut SweepReport, watch: &mut Watch, until: Instant) {
        if self.config.mode == SweeperMode::Steady {
            self.drain(report, until).await;
            return;
        }
        let cache = self.tools.cache();
        if watch.failed && !self.record_failure(report, watch).await {
            return;
        }
        let activity = match cache.outbox_activity().await {
            Ok(activity) => activity,
            Err(_) => {
                report.failures += 1;
                watch.failed = true;
                return;
            }
        };
        let went_back = activity.begun < watch.highest_begun;
        watch.highest_begun = watch.highest_begun.max(activity.begun);
        if activity.is_quiet() && !went_back {
            // Known without asking: every write counted in was applied.
            shared::metrics::record_outbox_backlog(0, Duration::ZERO);
            report.quiet += 1;
            return;
        }
        let since = match watch.settling {
            Some((begun, since)) if begun == activity.begun => since,
            _ => {
                let now = Instant::now();
                watch.settling = Some((activity.begun, now));
                now
            }
        };
        // Settled before this drain began: every write counted in so far has committed or never
        // will, so a drain that finds nothing has seen them all.
        let settled = since.elapsed() >= self.config.settle;
        let failures = report.failures;
        let drained = self.drain(report, until).await;
        if report.failures > failures {
            watch.failed = true;
            return;
        }
        if settled && drained && cache.mark_swept(activity.begun).await.is_ok() {
            watch.settling = None;
        }
    }

    /// Records a failure this run saw as a write in Redis's count (the writes of a moment Redis
    /// failed could not count in), so whichever run polls next drains until it settles. A count,
    /// not a deletion: a holder's later `mark_swept` of the count it read cannot undo it.
    /// Returns whether it could.
    async fn record_failure(&self, report: &mut SweepReport, watch: &mut Watch) -> bool {
        match self.tools.cache().count_write_in().await {
            Ok(()) => {
                watch.failed = false;
                true
            }
            Err(_) => {
                report.failures += 1;
                false
            }
        }
    }

    /// A scheduled run: polls until `SWEEPER_RUN_SECS` have passed or `deadline` is near,
    /// draining whenever it holds the sweeper's lease. A deadline already past as the run
    /// starts is no invocation's: `cargo lambda watch` sends its timeout (600000) where Lambda
    /// sends the deadline's epoch milliseconds, which reads as a time in 1970.
    pub async fn run(&self, deadline: SystemTime) -> SweepReport {
        let holder = Uuid::new_v4();
        let started = Instant::now();
        let until_deadline = deadline
            .duration_since(SystemTime::now())
            .map_or(self.config.run_for, |left| {
                left.saturating_sub(DEADLINE_MARGIN)
            });
        let stop = started + self.config.run_for.min(until_deadline);
        let lease = self.config.poll_interval * LEASE_POLLS;
        let cache = self.tools.cache();
        let mut report = SweepReport::default();
        let mut watch = Watch::default();
        loop {
            match cache.hold_sweeper_lease(holder, lease).await {
                Ok(true) => self.poll(&mut report, &mut watch, stop).await,
                Ok(false) => {
                    report.waited += 1;
                    // A waiting run saw the failure too: it records it as soon as it can.
                    if watch.failed {
                        self.record_failure(&mut report, &mut watch).await;
                    }
                }
                // Nothing can be applied while Redis does not answer, and the backlog grows:
                // the figure an operator needs now.
                Err(_) => {
                    report.failures += 1;
                    watch.failed = true;
                    let _ = self.report_backlog().await;
                }
            }
            let next = Instant::now() + self.config.poll_interval;
            if next >= stop {
                break;
            }
            tokio::time::sleep_until(next).await;
        }
        // Idempotency keys and tombstones past their retention go once a run, by a run that
        // held the lease.
        if report.rounds > 0 {
            match self.tools.prune_retained().await {
                Ok((keys, tombstones)) => {
                    report.pruned_keys += keys;
                    report.pruned_tombstones += tombstones;
                }
                Err(error) => tracing::warn!(%error, "idempotency keys or tombstones not pruned"),
            }
        }
        // The next run need not wait for the lease to expire.
        let _ = cache.release_sweeper_lease(holder).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        if report.applied > 0 || report.replayed > 0 || report.failures > 0 || report.pruned > 0 {
            tracing::info!(?report, elapsed_ms, "sweep done");
        } else {
            tracing::debug!(?report, elapsed_ms, "sweep done: nothing pending");
        }
        report
    }

    /// Emits the outbox backlog as a metric; returns how many rows are pending, if it could
    /// read them.
    async fn report_backlog(&self) -> Option<i64> {
        match self.tools.outbox_backlog().await {
            Ok(backlog) => {
                let waited = backlog
                    .oldest
                    .map_or(Duration::ZERO, |at| Timestamp::now().since(at));
                shared::metrics::record_outbox_backlog(backlog.pending, waited);
                Some(backlog.pending)
            }
            Err(error) => {
                tracing::warn!(%error, "outbox backlog not read");
                None
            }
        }
    }
}
