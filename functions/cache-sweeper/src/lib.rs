//! `cache-sweeper`: applies the cache invalidations that committed writes recorded in the outbox
//! and Redis has not taken yet (it refused writes, was unreachable, or the writer died between its
//! commit and its publish), then prunes applied ones.
//!
//! EventBridge starts it every minute; each run keeps draining every `SWEEPER_POLL_MS` until
//! `SWEEPER_RUN_SECS` have passed or the function's deadline is near, so an invalidation waits
//! seconds, not a minute. Runs that overlap are harmless: applying an invalidation twice is a
//! no-op (the revision guard keeps newer entries).

use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use shared::config::{Config, SweeperConfig};
use shared::services::ToolService;

/// Time left before the function's deadline when a run stops polling.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// What one run did (its invocation's result, visible in the logs and to `cargo lambda invoke`).
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Drains performed.
    pub rounds: u32,
    /// Invalidations applied.
    pub applied: usize,
    /// Applied outbox rows pruned.
    pub pruned: i64,
    /// Drains that stopped early (Redis or the database failed; the rest stays pending).
    pub failures: u32,
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

    /// One drain: applies every pending invalidation older than the minimum age (younger ones
    /// are being applied by their writers), then prunes applied rows past their retention.
    pub async fn drain(&self, report: &mut SweepReport) {
        report.rounds += 1;
        match self.tools.replay_invalidations(self.config.min_age).await {
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
        match self.tools.prune_invalidations(self.config.retention).await {
            Ok(pruned) => report.pruned += pruned,
            Err(error) => tracing::warn!(%error, "outbox not pruned"),
        }
    }

    /// A scheduled run: drains until `SWEEPER_RUN_SECS` have passed or `deadline` is near.
    pub async fn run(&self, deadline: SystemTime) -> SweepReport {
        let started = Instant::now();
        let until_deadline = deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            .saturating_sub(DEADLINE_MARGIN);
        let stop = started + self.config.run_for.min(until_deadline);
        let mut report = SweepReport::default();
        loop {
            self.drain(&mut report).await;
            let next = Instant::now() + self.config.poll_interval;
            if next >= stop {
                break;
            }
            tokio::time::sleep_until(next.into()).await;
        }
        let elapsed_ms = started.elapsed().as_millis() as u64;
        if report.applied > 0 || report.failures > 0 || report.pruned > 0 {
            tracing::info!(?report, elapsed_ms, "sweep done");
        } else {
            tracing::debug!(?report, elapsed_ms, "sweep done: nothing pending");
        }
        report
    }
}
