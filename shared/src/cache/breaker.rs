//! The per-instance circuit breaker in front of Redis.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Skips Redis after `threshold` consecutive failures, for `cooldown`; then lets one probe through.
#[derive(Debug)]
pub(super) struct Breaker {
    failures: AtomicU32,
    /// Milliseconds since `epoch` until which Redis is skipped; 0 when closed.
    open_until: AtomicU64,
    epoch: Instant,
    threshold: u32,
    cooldown: Duration,
}

impl Breaker {
    pub(super) fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            failures: AtomicU32::new(0),
            open_until: AtomicU64::new(0),
            epoch: Instant::now(),
            threshold,
            cooldown,
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// Whether this call may use Redis. While open, after the cool-down exactly one caller wins
    /// the right to probe (and pushes the deadline on for the others).
    pub(super) fn allow(&self) -> bool {
        let until = self.open_until.load(Ordering::Acquire);
        if until == 0 {
            return true;
        }
        let now = self.now();
        now >= until
            && self
                .open_until
                .compare_exchange(
                    until,
                    now + self.cooldown.as_millis() as u64,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    pub(super) fn on_success(&self) {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
        }
        if self.open_until.load(Ordering::Relaxed) != 0 {
            self.open_until.store(0, Ordering::Release);
            tracing::info!("redis reachable again: circuit breaker closed");
        }
    }

    pub(super) fn on_failure(&self) {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= self.threshold {
            let until = self.now() + self.cooldown.as_millis() as u64;
            if self.open_until.swap(until, Ordering::AcqRel) == 0 {
                tracing::warn!(failures, "redis failing: circuit breaker open");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_opens_after_threshold_and_lets_one_probe_through() {
        let breaker = Breaker::new(2, Duration::from_millis(30));
        breaker.on_failure();
        assert!(breaker.allow());
        breaker.on_failure();
        assert!(!breaker.allow());
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.allow(), "one probe after the cool-down");
        assert!(!breaker.allow(), "only one");
        breaker.on_success();
        assert!(breaker.allow());
    }
}
