//! Throttling of failed logins (per account and per source address) and of registrations (per
//! source address).
//!
//! Redis counts every attempt in a sliding window before the password is checked (atomically, so
//! concurrent guesses cannot overshoot); a successful login takes its attempt back and clears the
//! account's window. The database counts failures in a fixed window as well, so the limits hold
//! while Redis is down or after it lost its data. Subjects are digests (never an email or an
//! address in a key or a row), and an unknown email is throttled exactly like a real one.

use std::time::Duration;

use uuid::Uuid;

use crate::cache::CacheService;
use crate::config::ThrottleConfig;
use crate::domain::{normalize_email, Timestamp};
use crate::services::{address, subject};
use crate::store::FailureWindow;

const LOGIN_ACCOUNT: &str = "login-account";
const LOGIN_ADDRESS: &str = "login-address";
const REGISTER_ADDRESS: &str = "register-address";

/// One login attempt: the subjects it counts against and its id in the Redis windows.
pub(super) struct LoginAttempt {
    account: String,
    address: String,
    id: String,
}

impl LoginAttempt {
    pub(super) fn new(email: &str, source_ip: Option<&str>) -> Self {
        Self {
            account: subject(LOGIN_ACCOUNT, &normalize_email(email)),
            address: subject(LOGIN_ADDRESS, address(source_ip)),
            id: Uuid::new_v4().simple().to_string(),
        }
    }

    /// Both subjects, for the database's counters.
    pub(super) fn subjects(&self) -> [&str; 2] {
        [&self.account, &self.address]
    }
}

/// The limits, applied to Redis's windows and the database's counters.
pub(super) struct Throttle {
    cache: CacheService,
    limits: ThrottleConfig,
}

impl Throttle {
    pub(super) fn new(cache: CacheService, limits: ThrottleConfig) -> Self {
        Self { cache, limits }
    }

    /// When the database's windows of failures start to count: earlier ones are over.
    pub(super) fn login_window_start(&self, now: Timestamp) -> Timestamp {
        now.minus(self.limits.login_window)
    }

    /// Counts `attempt` in Redis's windows; `Some(wait)` if either is full. Redis being
    /// unavailable refuses nothing (the database's counters still apply).
    pub(super) async fn admit_login(&self, attempt: &LoginAttempt) -> Option<Duration> {
        let keys = self.cache.keys();
        let window = self.limits.login_window;
        let by_address = self.cache.count_attempt(
            keys.attempts(LOGIN_ADDRESS, &attempt.address),
            window,
            self.limits.login_failures_per_address,
            &attempt.id,
        );
        let by_account = self.cache.count_attempt(
            keys.attempts(LOGIN_ACCOUNT, &attempt.account),
            window,
            self.limits.login_failures_per_account,
            &attempt.id,
        );
        let (by_address, by_account) = tokio::join!(by_address, by_account);
        [by_address, by_account]
            .into_iter()
            .filter_map(|refused| refused.ok().flatten())
            .max()
    }

    /// `Some(wait)` if the database's counters of `attempt`'s subjects are at their limits.
    pub(super) fn refused_by_counters(
        &self,
        attempt: &LoginAttempt,
        counters: &[FailureWindow],
        now: Timestamp,
    ) -> Option<Duration> {
        counters
            .iter()
            .filter(|counter| {
                let limit = if counter.subject == attempt.account {
                    self.limits.login_failures_per_account
                } else {
                    self.limits.login_failures_per_address
                };
                counter.failures >= i64::from(limit)
            })
            .map(|counter| {
                let ends = counter.window_started_at.plus(self.limits.login_window);
                ends.since(now).max(Duration::from_secs(1))
            })
            .max()
    }

    /// A successful login: its attempt does not count against the address, and the account
    /// starts afresh.
    pub(super) async fn login_succeeded(&self, attempt: &LoginAttempt) {
        let keys = self.cache.keys();
        let _ = tokio::join!(
            self.cache
                .forget_attempt(keys.attempts(LOGIN_ADDRESS, &attempt.address), &attempt.id),
            self.cache
                .clear_attempts(keys.attempts(LOGIN_ACCOUNT, &attempt.account)),
        );
    }

    /// Counts a registration from `source_ip`; `Some(wait)` if the address is at its limit.
    /// Unlimited while Redis is unavailable.
    pub(super) async fn admit_registration(&self, source_ip: Option<&str>) -> Option<Duration> {
        let key = self.cache.keys().attempts(
            REGISTER_ADDRESS,
            &subject(REGISTER_ADDRESS, address(source_ip)),
        );
        self.cache
            .count_attempt(
                key,
                self.limits.registration_window,
                self.limits.registrations_per_address,
                &Uuid::new_v4().simple().to_string(),
            )
            .await
            .ok()
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_digests_of_the_normalized_email_and_separate_by_kind() {
        let a = LoginAttempt::new(" Ada@Example.com ", Some("192.0.2.1"));
        let b = LoginAttempt::new("ada@example.com", Some("192.0.2.1"));
        assert_eq!(a.account, b.account, "case and spaces do not matter");
        assert_eq!(a.address, b.address);
        assert_ne!(a.id, b.id, "each attempt is its own window entry");
        assert_eq!(a.account.len(), 64);
        assert!(!a.account.contains("ada") && !a.address.contains("192"));
        assert_ne!(
            subject(LOGIN_ADDRESS, "x"),
            subject(REGISTER_ADDRESS, "x"),
            "one table, no collisions between kinds"
        );
    }
}
