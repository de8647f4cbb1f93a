//! Test controls: added latency and injected failures (off by default).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// An error the emulator can be told to answer with instead of running a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum InjectedError {
    /// `ServiceUnavailableError` (HTTP 503).
    #[default]
    #[serde(rename = "ServiceUnavailableError")]
    ServiceUnavailable,
    /// `DatabaseUnavailableException` (HTTP 504).
    #[serde(rename = "DatabaseUnavailableException")]
    DatabaseUnavailable,
    /// `StatementTimeoutException` (HTTP 400).
    #[serde(rename = "StatementTimeoutException")]
    StatementTimeout,
    /// `DatabaseResumingException` (HTTP 400): what an auto-paused Aurora Serverless v2
    /// instance answers while it wakes up.
    #[serde(rename = "DatabaseResumingException")]
    DatabaseResuming,
}

impl InjectedError {
    /// The error shape name, e.g. `"ServiceUnavailableError"`.
    pub fn name(self) -> &'static str {
        self.api_error().error_type()
    }

    /// Parses an error shape name as accepted by `failWith` and `EMULATOR_FAIL_WITH`.
    pub fn from_name(name: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
    }

    pub(crate) fn api_error(self) -> ApiError {
        match self {
            Self::ServiceUnavailable => {
                ApiError::ServiceUnavailable("The service is unavailable (injected fault).".into())
            }
            Self::DatabaseUnavailable => ApiError::DatabaseUnavailable(
                "The writer instance in the DB cluster isn't available (injected fault).".into(),
            ),
            Self::StatementTimeout => ApiError::StatementTimeout {
                message: "The statement timed out (injected fault).".into(),
                db_connection_id: None,
            },
            Self::DatabaseResuming => ApiError::DatabaseResuming(
                "The Aurora DB instance is resuming after being auto-paused. \
                 Please wait a few seconds and try again. (injected fault)"
                    .into(),
            ),
        }
    }
}

/// The fault settings, as `GET`/`POST /_emulator/faults` show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FaultState {
    pub latency_ms: u64,
    pub fail_next: u32,
    pub fail_with: InjectedError,
    pub unavailable: bool,
}

/// Body of `POST /_emulator/faults`; absent members are left unchanged.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct FaultUpdate {
    pub latency_ms: Option<u64>,
    pub fail_next: Option<u32>,
    pub fail_with: Option<InjectedError>,
    pub unavailable: Option<bool>,
}

/// Live fault settings, shared by all requests.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    latency_micros: AtomicU64,
    fail_next: AtomicU32,
    fail_with: Mutex<InjectedError>,
    unavailable: AtomicBool,
}

impl Faults {
    pub(crate) fn new(latency: Duration) -> Self {
        let faults = Self::default();
        faults.set_latency(latency);
        faults
    }

    pub(crate) fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_micros.load(Ordering::Relaxed))
    }

    pub(crate) fn set_latency(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_micros.store(micros, Ordering::Relaxed);
    }

    pub(crate) fn fail_next(&self, count: u32, error: InjectedError) {
        *self.fail_with.lock().unwrap_or_else(|e| e.into_inner()) = error;
        self.fail_next.store(count, Ordering::Relaxed);
    }

    pub(crate) fn set_unavailable(&self, on: bool) {
        self.unavailable.store(on, Ordering::Relaxed);
    }

    fn fail_with(&self) -> InjectedError {
        *self.fail_with.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The error to answer the current call with, if a fault is armed (consumes one of
    /// `fail_next`).
    pub(crate) fn take_failure(&self) -> Option<ApiError> {
        if self.unavailable.load(Ordering::Relaxed) {
            return Some(InjectedError::ServiceUnavailable.api_error());
        }
        self.fail_next
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .ok()
            .map(|_| self.fail_with().api_error())
    }

    pub(crate) fn apply(&self, update: FaultUpdate) {
        if let Some(ms) = update.latency_ms {
            self.set_latency(Duration::from_millis(ms));
        }
        if let Some(error) = update.fail_with {
            *self.fail_with.lock().unwrap_or_else(|e| e.into_inner()) = error;
        }
        if let Some(count) = update.fail_next {
            self.fail_next.store(count, Ordering::Relaxed);
        }
        if let Some(on) = update.unavailable {
            self.set_unavailable(on);
        }
    }

    pub(crate) fn state(&self) -> FaultState {
        FaultState {
            latency_ms: u64::try_from(self.latency().as_millis()).unwrap_or(u64::MAX),
            fail_next: self.fail_next.load(Ordering::Relaxed),
            fail_with: self.fail_with(),
            unavailable: self.unavailable.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_next_counts_down() {
        let faults = Faults::default();
        assert_eq!(faults.take_failure(), None);
        faults.fail_next(2, InjectedError::DatabaseUnavailable);
        assert_eq!(
            faults.take_failure().map(|e| e.error_type()),
            Some("DatabaseUnavailableException")
        );
        assert!(faults.take_failure().is_some());
        assert_eq!(faults.take_failure(), None);
    }

    #[test]
    fn unavailable_fails_every_call_until_cleared() {
        let faults = Faults::default();
        faults.set_unavailable(true);
        for _ in 0..3 {
            assert_eq!(
                faults.take_failure().map(|e| e.status().as_u16()),
                Some(503)
            );
        }
        faults.set_unavailable(false);
        assert_eq!(faults.take_failure(), None);
    }

    #[test]
    fn update_reads_wire_names() {
        let update: FaultUpdate = serde_json::from_str(
            r#"{"latencyMs": 25, "failNext": 1, "failWith": "StatementTimeoutException"}"#,
        )
        .expect("update");
        let faults = Faults::default();
        faults.apply(update);
        let state = faults.state();
        assert_eq!(state.latency_ms, 25);
        assert_eq!(state.fail_with, InjectedError::StatementTimeout);
        assert_eq!(
            InjectedError::from_name("DatabaseResumingException"),
            Some(InjectedError::DatabaseResuming)
        );
        assert_eq!(InjectedError::from_name("Nope"), None);
    }
}
