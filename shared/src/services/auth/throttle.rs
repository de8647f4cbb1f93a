//! Throttling of failed logins and of registrations, after OWASP's advice against lockout
//! denial of service. A login attempt counts against:
//!
//! - its source address (`LOGIN_MAX_FAILURES_PER_ADDRESS`), whatever the accounts;
//! - its *place* for the account (`LOGIN_MAX_FAILURES_PER_PLACE`): the device it shows a device
//!   token of ([`device`](super::device)), or else its address;
//! - the account's guesses from *unknown places* (`LOGIN_MAX_FAILURES`), only when it shows no
//!   valid device token: what strangers can spend on one account, all together.
//!
//! So strangers guessing from anywhere exhaust the account's unknown-places window and are
//! refused, while its owner still logs in from a device that logged in before.
//!
//! Redis counts every attempt in sliding windows before the password is checked (atomically, so
//! concurrent guesses cannot overshoot); a successful login takes its attempt back and clears its
//! place's window (never the unknown-places one: those are other people's guesses). The database
//! counts failures in fixed windows as well, so the limits hold while Redis is down or after it
//! lost its data. Subjects are digests (never an email or an address in a key or a row), and an
//! unknown email is throttled exactly like a real one.

use std::time::Duration;

use uuid::Uuid;

use crate::cache::CacheService;
use crate::config::ThrottleConfig;
use crate::domain::{normalize_email, Timestamp};
use crate::services::{address, subject};
use crate::store::FailureWindow;

const LOGIN_ACCOUNT: &str = "login-account";
const LOGIN_ADDRESS: &str = "login-address";
const LOGIN_PLACE: &str = "login-place";
const REGISTER_ADDRESS: &str = "register-address";

/// The account digest a login of `email` counts against (and device tokens are bound to).
pub(super) fn account_of(email: &str) -> String {
    subject(LOGIN_ACCOUNT, &normalize_email(email))
}

/// One login attempt: the windows it counts against and its id in them.
pub(super) struct LoginAttempt {
    account: String,
    address: String,
    place: String,
    known_device: bool,
    id: String,
}

/// Which limit a window has.
#[derive(Clone, Copy)]
enum Window {
    Address,
    Place,
    UnknownPlaces,
}

impl LoginAttempt {
    /// An attempt on `account` (see [`account_of`]) from `source_ip`, on the device `device`
    /// (a verified device token's id), if any.
    pub(super) fn new(account: String, source_ip: Option<&str>, device: Option<&str>) -> Self {
        let address = address(source_ip);
        let place = match device {
            Some(device) => subject(LOGIN_PLACE, &format!("{account}\0device\0{device}")),
            None => subject(LOGIN_PLACE, &format!("{account}\0address\0{address}")),
        };
        Self {
            address: subject(LOGIN_ADDRESS, address),
            place,
            known_device: device.is_some(),
            account,
            id: Uuid::new_v4().simple().to_string(),
        }
    }

    /// The account digest.
    pub(super) fn account(&self) -> &str {
        &self.account
    }

    /// The place's digest: its window is cleared by a success.
    pub(super) fn place(&self) -> &str {
        &self.place
    }

    /// The windows this attempt counts against, with their subjects.
    fn windows(&self) -> Vec<(Window, &str)> {
        let mut windows = vec![
            (Window::Address, &*self.address),
            (Window::Place, &*self.place),
        ];
        if !self.known_device {
            windows.push((Window::UnknownPlaces, &*self.account));
        }
        windows
    }

    /// The subjects of its windows, for the database's counters.
    pub(super) fn subjects(&self) -> Vec<&str> {
        self.windows()
            .into_iter()
            .map(|(_, subject)| subject)
            .collect()
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

    fn limit(&self, window: Window) -> u32 {
        match window {
            Window::Address => self.limits.login_failures_per_address,
            Window::Place => self.limits.login_failures_per_place,
            Window::UnknownPlaces => self.limits.login_failures_per_account,
        }
    }

    fn key(&self, window: Window, subject: &str) -> String {
        let kind = match window {
            Window::Address => LOGIN_ADDRESS,
            Window::Place => LOGIN_PLACE,
            Window::UnknownPlaces => LOGIN_ACCOUNT,
        };
        self.cache.keys().attempts(kind, subject)
    }

    /// When the database's windows of failures start to count: earlier ones are over.
    pub(super) fn login_window_start(&self, now: Timestamp) -> Timestamp {
        now.minus(self.limits.login_window)
    }

    /// Counts `attempt` in Redis's windows; `Some(wait)` if any is full, and then it counts in
    /// none (a refused attempt spends nobody's budget: a stranger refused at one place does not
    /// fill the account's unknown-places window). Redis being unavailable refuses nothing (the
    /// database's counters still apply).
    pub(super) async fn admit_login(&self, attempt: &LoginAttempt) -> Option<Duration> {
        let window = self.limits.login_window;
        let keys: Vec<(String, u32)> = attempt
            .windows()
            .into_iter()
            .map(|(kind, subject)| (self.key(kind, subject), self.limit(kind)))
            .collect();
        let counts = keys.iter().map(|(key, limit)| {
            self.cache
                .count_attempt(key.clone(), window, *limit, &attempt.id)
        });
        let outcomes = futures_util::future::join_all(counts).await;
        let refused = outcomes
            .iter()
            .filter_map(|outcome| outcome.as_ref().ok().copied().flatten())
            .max()?;
        self.take_back(attempt).await;
        Some(refused)
    }

    /// `Some(wait)` if the database's counters of `attempt`'s windows are at their limits.
    pub(super) fn refused_by_counters(
        &self,
        attempt: &LoginAttempt,
        counters: &[FailureWindow],
        now: Timestamp,
    ) -> Option<Duration> {
        let windows = attempt.windows();
        counters
            .iter()
            .filter(|counter| {
                windows.iter().any(|(kind, subject)| {
                    *subject == counter.subject && counter.failures >= i64::from(self.limit(*kind))
                })
            })
            .map(|counter| {
                let ends = counter.window_started_at.plus(self.limits.login_window);
                ends.since(now).max(Duration::from_secs(1))
            })
            .max()
    }

    /// Takes `attempt` back from every Redis window it was counted in (it was refused, or never
    /// checked): it spends nobody's budget.
    pub(super) async fn take_back(&self, attempt: &LoginAttempt) {
        let forget = attempt.windows().into_iter().map(|(kind, subject)| {
            self.cache
                .forget_attempt(self.key(kind, subject), &attempt.id)
        });
        futures_util::future::join_all(forget).await;
    }

    /// A successful login: its attempt does not count, and its place starts afresh.
    pub(super) async fn login_succeeded(&self, attempt: &LoginAttempt) {
        let forget = attempt
            .windows()
            .into_iter()
            .filter(|(kind, _)| !matches!(kind, Window::Place))
            .map(|(kind, subject)| {
                self.cache
                    .forget_attempt(self.key(kind, subject), &attempt.id)
            });
        let clear = self
            .cache
            .clear_attempts(self.key(Window::Place, &attempt.place));
        let _ = tokio::join!(futures_util::future::join_all(forget), clear);
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
        let a = LoginAttempt::new(account_of(" Ada@Example.com "), Some("192.0.2.1"), None);
        let b = LoginAttempt::new(account_of("ada@example.com"), Some("192.0.2.1"), None);
        assert_eq!(a.account, b.account, "case and spaces do not matter");
        assert_eq!(a.address, b.address);
        assert_eq!(a.place, b.place);
        assert_ne!(a.id, b.id, "each attempt is its own window entry");
        assert_eq!(a.account.len(), 64);
        assert!(!a.account.contains("ada") && !a.address.contains("192"));
        assert_ne!(
            subject(LOGIN_ADDRESS, "x"),
            subject(REGISTER_ADDRESS, "x"),
            "one table, no collisions between kinds"
        );
    }

    #[test]
    fn a_known_device_is_its_own_place_and_spends_nothing_of_the_unknown_places() {
        let account = account_of("ada@example.com");
        let stranger = LoginAttempt::new(account.clone(), Some("192.0.2.1"), None);
        let owner = LoginAttempt::new(account.clone(), Some("192.0.2.1"), Some("d1"));
        assert_eq!(stranger.subjects().len(), 3);
        assert!(stranger.subjects().contains(&account.as_str()));
        assert_eq!(owner.subjects().len(), 2);
        assert!(!owner.subjects().contains(&account.as_str()));
        assert_ne!(owner.place, stranger.place, "a device is not its address");
        assert_eq!(
            owner.address, stranger.address,
            "the address limit holds for both"
        );
        let elsewhere = LoginAttempt::new(account, Some("192.0.2.2"), None);
        assert_ne!(elsewhere.place, stranger.place, "one place per address");
    }
}
