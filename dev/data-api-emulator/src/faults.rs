//! Test controls (all off by default): added latency, injected failures, and fault rules
//! that drop or delay the answers of calls that did run.

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
    /// `ThrottlingException` (HTTP 400): the caller is over its request rate.
    #[serde(rename = "ThrottlingException")]
    Throttling,
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
            Self::Throttling => ApiError::Throttling("Rate exceeded (injected fault).".into()),
        }
    }
}

/// A Data API operation, as a [`FaultRule`] selects it (named after its route).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Operation {
    /// `ExecuteStatement` (`POST /Execute`); `"ExecuteStatement"` is accepted in JSON too.
    #[serde(alias = "ExecuteStatement")]
    Execute,
    /// `BatchExecuteStatement` (`POST /BatchExecute`); `"BatchExecuteStatement"` is accepted
    /// in JSON too.
    #[serde(alias = "BatchExecuteStatement")]
    BatchExecute,
    /// `BeginTransaction`.
    BeginTransaction,
    /// `CommitTransaction`.
    CommitTransaction,
    /// `RollbackTransaction`.
    RollbackTransaction,
}

impl Operation {
    /// The name used in routes and in the JSON of `/_emulator/faults`, e.g. `"Execute"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Execute => "Execute",
            Self::BatchExecute => "BatchExecute",
            Self::BeginTransaction => "BeginTransaction",
            Self::CommitTransaction => "CommitTransaction",
            Self::RollbackTransaction => "RollbackTransaction",
        }
    }

    /// `true` for the operations that carry SQL (and so can match a rule's `statement`).
    pub fn runs_sql(self) -> bool {
        matches!(self, Self::Execute | Self::BatchExecute)
    }
}

/// What a [`FaultRule`] does to a call it matches. The call always runs first: its statement
/// executes, its commit commits; only the answer is affected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Close the HTTP connection without answering (no status line, no headers). The SDK
    /// sees a transport error (hyper's "connection closed before message completed") and,
    /// with retries enabled, sends the same request again.
    DropResponse,
    /// Hold the answer this long before sending it. A client whose attempt timeout is
    /// shorter gives up on the attempt (and retries it), although the call took effect.
    Delay(Duration),
    /// Make a `SELECT` work this much longer *in the database* (it sleeps there first; its rows
    /// then come in no particular order), so the statement's own time limit
    /// (`MAX_EXECUTION_TIME`) can stop it. Other statements run as they are.
    Stall(Duration),
}

/// A fault armed for the next `count` Data API calls that match it.
///
/// A call is matched by the first armed rule whose `operation` and `statement` fit it; each
/// matching call consumes one of `count`, and the rule is removed when that reaches 0.
/// Rules never apply to the `/_emulator/` controls, and are independent of latency,
/// `fail_next` and `unavailable`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// The operation to match; `None` matches every Data API operation.
    pub operation: Option<Operation>,
    /// The first SQL keyword to match (`"SELECT"`, `"INSERT"`, `"UPDATE"`, ...), compared
    /// case-insensitively with the first word of the call's `sql` after leading whitespace
    /// and comments. A rule with a statement only matches `Execute` and `BatchExecute`
    /// calls.
    pub statement: Option<String>,
    /// What happens to the answer.
    pub action: FaultAction,
    /// How many matching calls the rule applies to (a rule with 0 is not armed).
    pub count: u32,
}

impl FaultRule {
    /// Drops the answer of the next `count` calls of `operation`.
    pub fn drop_response(operation: Operation, count: u32) -> Self {
        Self {
            operation: Some(operation),
            statement: None,
            action: FaultAction::DropResponse,
            count,
        }
    }

    /// Drops the answer of the next `count` `ExecuteStatement` calls whose SQL starts with
    /// `statement` (e.g. `"UPDATE"`).
    pub fn drop_response_of_statement(statement: &str, count: u32) -> Self {
        Self {
            operation: Some(Operation::Execute),
            statement: Some(statement.trim().to_ascii_uppercase()),
            action: FaultAction::DropResponse,
            count,
        }
    }

    /// Makes the next `count` `SELECT` statements of `ExecuteStatement` work `delay` longer in
    /// the database.
    pub fn stall_selects(delay: Duration, count: u32) -> Self {
        Self {
            operation: Some(Operation::Execute),
            statement: Some("SELECT".into()),
            action: FaultAction::Stall(delay),
            count,
        }
    }

    /// Holds the answer of the next `count` calls of `operation` (whose SQL starts with
    /// `statement`, if given) for `delay`.
    pub fn delay(
        operation: Operation,
        statement: Option<&str>,
        delay: Duration,
        count: u32,
    ) -> Self {
        Self {
            operation: Some(operation),
            statement: statement.map(|s| s.trim().to_ascii_uppercase()),
            action: FaultAction::Delay(delay),
            count,
        }
    }

    /// `true` when the rule applies to a call of `operation` whose SQL starts with the word
    /// `keyword` (`None` for calls without SQL). Ignores `count`.
    pub(crate) fn matches(&self, operation: Operation, keyword: Option<&str>) -> bool {
        if self.operation.is_some_and(|wanted| wanted != operation) {
            return false;
        }
        match &self.statement {
            None => true,
            Some(statement) => {
                operation.runs_sql()
                    && keyword.is_some_and(|word| statement.trim().eq_ignore_ascii_case(word))
            }
        }
    }
}

/// `action` of a rule in the JSON of `/_emulator/faults`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum RuleActionName {
    DropResponse,
    Delay,
    Stall,
}

/// A fault rule in the JSON of `/_emulator/faults`: `{"action": "dropResponse" | "delay",
/// "operation": "CommitTransaction", "statement": "UPDATE", "delayMs": 3000, "count": 1}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RuleJson {
    pub action: RuleActionName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Defaults to 1 in requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

impl TryFrom<RuleJson> for FaultRule {
    type Error = String;

    fn try_from(json: RuleJson) -> Result<Self, String> {
        let action = match (json.action, json.delay_ms) {
            (RuleActionName::DropResponse, None) => FaultAction::DropResponse,
            (RuleActionName::DropResponse, Some(_)) => {
                return Err("delayMs only applies to delay rules.".into())
            }
            (RuleActionName::Delay, Some(ms)) => FaultAction::Delay(Duration::from_millis(ms)),
            (RuleActionName::Delay, None) => return Err("A delay rule needs delayMs.".into()),
            (RuleActionName::Stall, Some(ms)) => FaultAction::Stall(Duration::from_millis(ms)),
            (RuleActionName::Stall, None) => return Err("A stall rule needs delayMs.".into()),
        };
        let count = json.count.unwrap_or(1);
        if count == 0 {
            return Err("A rule's count must be at least 1.".into());
        }
        let statement = match json.statement {
            None => None,
            Some(statement) => {
                let word = statement.trim();
                if word.is_empty() || !word.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    return Err(format!(
                        "statement must be a SQL keyword such as UPDATE, not {statement:?}."
                    ));
                }
                if json.operation.is_some_and(|op| !op.runs_sql()) {
                    return Err(
                        "statement only applies to the Execute and BatchExecute operations.".into(),
                    );
                }
                Some(word.to_ascii_uppercase())
            }
        };
        Ok(Self {
            operation: json.operation,
            statement,
            action,
            count,
        })
    }
}

impl From<&FaultRule> for RuleJson {
    fn from(rule: &FaultRule) -> Self {
        let (action, delay_ms) = match rule.action {
            FaultAction::DropResponse => (RuleActionName::DropResponse, None),
            FaultAction::Delay(delay) => (RuleActionName::Delay, Some(millis(delay))),
            FaultAction::Stall(delay) => (RuleActionName::Stall, Some(millis(delay))),
        };
        Self {
            action,
            operation: rule.operation,
            statement: rule.statement.clone(),
            delay_ms,
            count: Some(rule.count),
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The fault settings, as `GET`/`POST /_emulator/faults` show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FaultState {
    pub latency_ms: u64,
    pub fail_next: u32,
    pub fail_with: InjectedError,
    pub unavailable: bool,
    /// The armed rules, in matching order, with their remaining counts.
    pub rules: Vec<RuleJson>,
}

/// Body of `POST /_emulator/faults`; absent members are left unchanged.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct FaultUpdate {
    pub latency_ms: Option<u64>,
    pub fail_next: Option<u32>,
    pub fail_with: Option<InjectedError>,
    pub unavailable: Option<bool>,
    /// `true` removes every armed rule (before `rules` are added).
    pub clear_rules: Option<bool>,
    /// Rules appended to the armed ones.
    pub rules: Option<Vec<RuleJson>>,
}

/// Live fault settings, shared by all requests.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    latency_micros: AtomicU64,
    fail_next: AtomicU32,
    fail_with: Mutex<InjectedError>,
    unavailable: AtomicBool,
    rules: Mutex<Vec<FaultRule>>,
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

    fn rules(&self) -> std::sync::MutexGuard<'_, Vec<FaultRule>> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Arms `rule` after the already armed ones (a rule with `count` 0 is ignored).
    pub(crate) fn add_rule(&self, rule: FaultRule) {
        if rule.count > 0 {
            self.rules().push(rule);
        }
    }

    pub(crate) fn clear_rules(&self) {
        self.rules().clear();
    }

    /// `true` when a rule is armed (so that calls need not look at their SQL otherwise).
    pub(crate) fn has_rules(&self) -> bool {
        !self.rules().is_empty()
    }

    /// The action of the first armed rule matching a call of `operation` whose SQL starts
    /// with `keyword`, consuming one of its count.
    pub(crate) fn take_rule(
        &self,
        operation: Operation,
        keyword: Option<&str>,
    ) -> Option<FaultAction> {
        let mut rules = self.rules();
        let index = rules
            .iter()
            .position(|rule| rule.count > 0 && rule.matches(operation, keyword))?;
        let rule = &mut rules[index];
        let action = rule.action;
        rule.count -= 1;
        if rule.count == 0 {
            rules.remove(index);
        }
        Some(action)
    }

    /// Applies a `POST /_emulator/faults` body; changes nothing when a rule is invalid.
    pub(crate) fn apply(&self, update: FaultUpdate) -> Result<(), String> {
        let rules = update
            .rules
            .unwrap_or_default()
            .into_iter()
            .map(FaultRule::try_from)
            .collect::<Result<Vec<_>, _>>()?;
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
        let mut armed = self.rules();
        if update.clear_rules == Some(true) {
            armed.clear();
        }
        armed.extend(rules);
        Ok(())
    }

    pub(crate) fn state(&self) -> FaultState {
        FaultState {
            latency_ms: u64::try_from(self.latency().as_millis()).unwrap_or(u64::MAX),
            fail_next: self.fail_next.load(Ordering::Relaxed),
            fail_with: self.fail_with(),
            unavailable: self.unavailable.load(Ordering::Relaxed),
            rules: self.rules().iter().map(RuleJson::from).collect(),
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
        faults.apply(update).expect("valid update");
        let state = faults.state();
        assert_eq!(state.latency_ms, 25);
        assert_eq!(state.fail_with, InjectedError::StatementTimeout);
        assert_eq!(
            InjectedError::from_name("DatabaseResumingException"),
            Some(InjectedError::DatabaseResuming)
        );
        assert_eq!(InjectedError::from_name("Nope"), None);
    }

    fn take(faults: &Faults, operation: Operation, sql: &str) -> Option<FaultAction> {
        let keyword = operation
            .runs_sql()
            .then(|| crate::params::first_keyword(sql));
        faults.take_rule(operation, keyword)
    }

    const DELAY: FaultAction = FaultAction::Delay(Duration::from_millis(250));

    #[test]
    fn rules_match_by_operation() {
        let faults = Faults::default();
        faults.add_rule(FaultRule::drop_response(Operation::CommitTransaction, 1));
        assert_eq!(take(&faults, Operation::Execute, "SELECT 1"), None);
        assert_eq!(take(&faults, Operation::RollbackTransaction, ""), None);
        assert_eq!(take(&faults, Operation::BeginTransaction, ""), None);
        assert_eq!(
            take(&faults, Operation::CommitTransaction, ""),
            Some(FaultAction::DropResponse)
        );
        assert_eq!(take(&faults, Operation::CommitTransaction, ""), None);
        assert!(!faults.has_rules());
    }

    #[test]
    fn rules_without_operation_match_every_operation() {
        let faults = Faults::default();
        faults.add_rule(FaultRule {
            operation: None,
            statement: None,
            action: DELAY,
            count: 3,
        });
        assert_eq!(take(&faults, Operation::BeginTransaction, ""), Some(DELAY));
        assert_eq!(
            take(&faults, Operation::BatchExecute, "INSERT"),
            Some(DELAY)
        );
        assert_eq!(
            take(&faults, Operation::RollbackTransaction, ""),
            Some(DELAY)
        );
        assert_eq!(take(&faults, Operation::Execute, "SELECT 1"), None);
    }

    #[test]
    fn rules_match_the_first_keyword_case_insensitively() {
        let faults = Faults::default();
        faults.add_rule(FaultRule::drop_response_of_statement("update", 2));
        assert_eq!(take(&faults, Operation::Execute, "SELECT 1"), None);
        assert_eq!(take(&faults, Operation::Execute, "UPDATEX t"), None);
        assert_eq!(
            take(&faults, Operation::BatchExecute, "UPDATE t SET a = :a"),
            None,
            "drop_response_of_statement is for Execute only"
        );
        assert_eq!(
            take(
                &faults,
                Operation::Execute,
                "/* why */ -- note\n  Update t SET a = 1"
            ),
            Some(FaultAction::DropResponse)
        );
        assert_eq!(
            take(&faults, Operation::Execute, "UPDATE t SET a = 2"),
            Some(FaultAction::DropResponse)
        );
        assert_eq!(
            take(&faults, Operation::Execute, "UPDATE t SET a = 3"),
            None
        );
    }

    #[test]
    fn statement_rules_never_match_operations_without_sql() {
        let faults = Faults::default();
        faults.add_rule(FaultRule {
            operation: None,
            statement: Some("SELECT".into()),
            action: DELAY,
            count: 1,
        });
        assert_eq!(
            faults.take_rule(Operation::CommitTransaction, Some("SELECT")),
            None
        );
        assert_eq!(faults.take_rule(Operation::Execute, None), None);
        assert_eq!(
            take(&faults, Operation::BatchExecute, "select 1"),
            Some(DELAY)
        );
    }

    #[test]
    fn the_first_matching_rule_wins_and_counts_down() {
        let faults = Faults::default();
        faults.add_rule(FaultRule::delay(
            Operation::Execute,
            Some("SELECT"),
            Duration::from_millis(250),
            1,
        ));
        faults.add_rule(FaultRule::drop_response(Operation::Execute, 2));
        faults.add_rule(FaultRule::drop_response(Operation::Execute, 0));
        assert_eq!(
            faults.state().rules.len(),
            2,
            "a rule with count 0 is not armed"
        );
        assert_eq!(
            take(&faults, Operation::Execute, "INSERT INTO t VALUES (1)"),
            Some(FaultAction::DropResponse),
            "the SELECT rule does not match, the next one does"
        );
        assert_eq!(take(&faults, Operation::Execute, "SELECT 1"), Some(DELAY));
        assert_eq!(
            take(&faults, Operation::Execute, "SELECT 1"),
            Some(FaultAction::DropResponse)
        );
        assert_eq!(take(&faults, Operation::Execute, "SELECT 1"), None);
        assert!(!faults.has_rules());
    }

    #[test]
    fn clear_rules_leaves_other_faults_alone() {
        let faults = Faults::new(Duration::from_millis(5));
        faults.fail_next(1, InjectedError::StatementTimeout);
        faults.add_rule(FaultRule::drop_response(Operation::Execute, 1));
        faults.clear_rules();
        assert_eq!(take(&faults, Operation::Execute, "SELECT 1"), None);
        assert_eq!(faults.state().latency_ms, 5);
        assert!(faults.take_failure().is_some());
    }

    #[test]
    fn rules_are_read_from_and_shown_as_json() {
        let faults = Faults::default();
        faults.add_rule(FaultRule::drop_response(Operation::BeginTransaction, 1));
        let update: FaultUpdate = serde_json::from_str(
            r#"{"clearRules": true, "rules": [
                {"action": "dropResponse", "operation": "CommitTransaction"},
                {"action": "delay", "operation": "ExecuteStatement", "statement": "update",
                 "delayMs": 3000, "count": 2}
            ]}"#,
        )
        .expect("update");
        faults.apply(update).expect("valid rules");
        assert_eq!(
            serde_json::to_value(faults.state().rules).expect("json"),
            serde_json::json!([
                {"action": "dropResponse", "operation": "CommitTransaction", "count": 1},
                {"action": "delay", "operation": "Execute", "statement": "UPDATE",
                 "delayMs": 3000, "count": 2}
            ])
        );
        assert_eq!(
            take(&faults, Operation::Execute, "update t set a = 1"),
            Some(FaultAction::Delay(Duration::from_secs(3)))
        );
    }

    #[test]
    fn invalid_rules_change_nothing() {
        let faults = Faults::default();
        for body in [
            r#"{"latencyMs": 9, "rules": [{"action": "delay"}]}"#,
            r#"{"latencyMs": 9, "rules": [{"action": "dropResponse", "delayMs": 5}]}"#,
            r#"{"latencyMs": 9, "rules": [{"action": "dropResponse", "count": 0}]}"#,
            r#"{"latencyMs": 9, "rules": [{"action": "dropResponse", "statement": "a b"}]}"#,
            r#"{"latencyMs": 9, "rules": [{"action": "dropResponse",
                "operation": "CommitTransaction", "statement": "UPDATE"}]}"#,
        ] {
            let update: FaultUpdate = serde_json::from_str(body).expect(body);
            assert!(faults.apply(update).is_err(), "{body}");
        }
        assert_eq!(faults.state().latency_ms, 0);
        assert!(faults.state().rules.is_empty());
        for body in [
            r#"{"rules": [{"action": "explode"}]}"#,
            r#"{"rules": [{"action": "delay", "delayMs": 1, "operation": "Select"}]}"#,
            r#"{"rules": [{"action": "delay", "delayMs": 1, "times": 2}]}"#,
        ] {
            assert!(serde_json::from_str::<FaultUpdate>(body).is_err(), "{body}");
        }
    }
}
