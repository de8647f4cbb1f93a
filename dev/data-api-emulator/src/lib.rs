//! A local stand-in for the Amazon RDS Data API, running statements on MySQL/MariaDB.
//!
//! It speaks the REST-JSON protocol the unmodified `aws-sdk-rdsdata` client sends: point the
//! client's endpoint URL at it (for example `AWS_ENDPOINT_URL_RDS_DATA=http://127.0.0.1:8080`)
//! with any AWS credentials (SigV4 signatures are not checked), and it answers what the Data
//! API of Aurora MySQL (Serverless v2 / provisioned) answers. It also serves Secrets
//! Manager's `GetSecretValue` for the secrets it is configured with (see [Secrets](#secrets)).
//!
//! # HTTP surface
//!
//! | Route                                                   | Operation                                              |
//! |---------------------------------------------------------|--------------------------------------------------------|
//! | `POST /Execute`                                         | `ExecuteStatement`                                     |
//! | `POST /BatchExecute`                                    | `BatchExecuteStatement`                                |
//! | `POST /BeginTransaction`                                | `BeginTransaction`                                     |
//! | `POST /CommitTransaction`                               | `CommitTransaction`                                    |
//! | `POST /RollbackTransaction`                             | `RollbackTransaction`                                  |
//! | `POST /`, `X-Amz-Target: secretsmanager.GetSecretValue` | Secrets Manager `GetSecretValue` (AWS JSON 1.1)        |
//! | `GET /_emulator/stats`                                  | [`EmulatorStats`] as JSON                              |
//! | `GET`/`POST /_emulator/faults`                          | read/change latency, injected failures and fault rules |
//! | `GET /_emulator/health`                                 | `{"status":"ok"}` when the database answers            |
//!
//! `POST /_emulator/faults` takes `{"latencyMs": u64, "failNext": u32, "failWith":
//! "ServiceUnavailableError" | "DatabaseUnavailableException" | "StatementTimeoutException" |
//! "DatabaseResumingException" | "ThrottlingException", "unavailable": bool, "clearRules": bool, "rules": [...]}`,
//! every member optional, and answers the resulting settings (`GET` shows them too).
//!
//! # Secrets
//!
//! [`EmulatorConfig::secrets`] (from the JSON file named by `EMULATOR_SECRETS_FILE`) maps
//! secret ARNs to [`SecretValue`]s: database credentials
//! (`{"username": "u", "password": "p"}`) or any other text (`"a signing key"`).
//!
//! - **Data API authentication.** With no secrets, every call runs as the user of
//!   [`EmulatorConfig::mysql_url`], whatever its `secretArn`. With secrets, a call's
//!   `secretArn` must name a credentials secret, and its statements run on a connection
//!   logged in as that user (host, port and options of the URL; the call's `database`, or
//!   the URL's). A transaction keeps the connection `BeginTransaction` opened with its
//!   secret. An ARN that is not configured, or names a text secret, is a
//!   `SecretsErrorException` (`Error fetching secret <arn> : Secrets Manager can't find the
//!   specified secret.`); what the user may not do is the server's `DatabaseErrorException`
//!   (`INSERT command denied to user ...`, `Access denied for user ...`).
//! - **`GetSecretValue`**, for an unmodified `aws-sdk-secretsmanager` client pointed here
//!   (`AWS_ENDPOINT_URL_SECRETS_MANAGER=http://127.0.0.1:8080`): the `SecretId` is a
//!   configured ARN or a name (what follows `secret:` in the ARN). The answer has `ARN`,
//!   `Name`, `SecretString` (credentials as `{"username":...,"password":...}`, text as
//!   is), one version (`VersionStages: ["AWSCURRENT"]`) and `CreatedDate` (the emulator's
//!   start). Unknown secrets are `ResourceNotFoundException` (400); other operations
//!   `UnknownOperationException` (400).
//!
//! # Fault rules: answers lost after the work was done
//!
//! Latency and `failNext` act *before* a call runs. Fault rules act *after* it: the
//! statement executed, the commit committed, and then the answer is lost or late, so the
//! client's retry repeats work that already happened.
//!
//! - **Drop response** ([`FaultAction::DropResponse`]): the connection is closed without a
//!   single byte of answer (no status line, no headers). `aws-sdk-rdsdata` reports a
//!   `DispatchFailure` (hyper's `IncompleteMessage`, "connection closed before message
//!   completed"), classifies it as transient and, with retries enabled, sends the same
//!   request again; with retries disabled the caller gets that `DispatchFailure`.
//! - **Delay** ([`FaultAction::Delay`]): the answer is held for the given time before it is
//!   sent. A client whose attempt timeout is shorter gets a `TimeoutError` for the attempt
//!   and retries it.
//!
//! A [`FaultRule`] selects calls by [`Operation`] (`None`: every Data API operation, never
//! the `/_emulator/` controls) and by `statement`, the first SQL keyword of an `Execute` or
//! `BatchExecute` call (case-insensitive, after leading whitespace and comments; a rule with
//! a statement matches no other operation). It applies to its next `count` matching calls;
//! a call matching several rules uses the first armed one. Arm rules with
//! [`Emulator::add_fault`] and remove them with [`Emulator::clear_faults`], or over HTTP:
//!
//! ```json
//! {"rules": [{"action": "dropResponse", "operation": "CommitTransaction", "count": 1},
//!            {"action": "delay", "operation": "Execute", "statement": "UPDATE",
//!             "delayMs": 3000}]}
//! ```
//!
//! (`action` is required, `delayMs` required for and only allowed with `delay`, `count`
//! defaults to 1; `"clearRules": true` removes the armed rules before `rules` are appended.)
//! [`EmulatorStats::dropped_responses`] and [`EmulatorStats::delayed_responses`] count the
//! affected calls. Dropping needs the emulator's own server ([`Emulator::serve`],
//! [`Emulator::spawn_local`] or the binary); `axum::serve` of [`Emulator::router`] would
//! send those answers.
//!
//! # Behaviour reproduced from the Data API
//!
//! - Named parameters (`:name`) are bound by name; `typeHint` values are sent as strings.
//! - One statement per call: a trailing `;` is accepted, more statements are a
//!   `ValidationException`, as is the `schema` member.
//! - Values are mapped as the Aurora user guide describes, by the JDBC type of the column:
//!   integers are `longValue` / JSON numbers, floats `doubleValue` / numbers, `DECIMAL`
//!   `stringValue` / strings, `BIT` and `TINYINT(1)` `booleanValue` / booleans, binary
//!   columns `blobValue` / base64 strings, NULL `isNull` / `null`, everything else (text,
//!   JSON, dates and times as MySQL prints them) strings; `resultSetOptions` is honoured.
//! - `UPDATE` reports matched rows (as through JDBC), inserts report the generated id in
//!   `generatedFields`.
//! - Errors use the service's error shapes and status codes: a MySQL error is a
//!   `DatabaseErrorException` carrying MySQL 8's message, error number and SQLSTATE
//!   (`…; Error code: 1062; SQLState: 23000`; MariaDB's translated where they differ, and
//!   sessions get MySQL 8's `sql_mode` and fractional-second rounding), an unreachable database a
//!   `DatabaseUnavailableException` (504), an unknown transaction a
//!   `TransactionNotFoundException` (404).
//! - Transactions hold a dedicated connection; a concurrent call on a busy transaction fails
//!   with `Transaction is still running a query`; a refused statement is undone alone, but
//!   a deadlock, a lost connection or a timeout aborts the transaction; an idle one is rolled
//!   back after the idle timeout (3 minutes by default).
//! - `BatchExecuteStatement` without a transaction runs all parameter sets atomically.
//! - Calls time out after 45 s (`StatementTimeoutException`), results over 1 MiB and JSON
//!   results over 10 MB are refused.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use data_api_emulator::{Emulator, EmulatorConfig};
//!
//! let (emulator, addr) = Emulator::spawn_local(EmulatorConfig::from_env()).await?;
//! let endpoint_url = format!("http://{addr}");
//! // ... build an aws_sdk_rdsdata::Client with `endpoint_url` and run the code under test ...
//! assert_eq!(emulator.stats().open_transactions, 0);
//!
//! // The next COMMIT commits, but its answer never arrives.
//! use data_api_emulator::{FaultRule, Operation};
//! emulator.add_fault(FaultRule::drop_response(Operation::CommitTransaction, 1));
//! # Ok(()) }
//! ```

mod config;
mod db;
mod error;
mod faults;
mod hints;
mod mysql8;
mod params;
mod protocol;
mod results;
mod secrets;
mod serve;
mod server;
mod stats;
mod transactions;
mod values;

pub use config::{EmulatorConfig, DEFAULT_MYSQL_URL, DEFAULT_TRANSACTION_IDLE_TIMEOUT};
pub use faults::{FaultAction, FaultRule, InjectedError, Operation};
pub use secrets::SecretValue;
pub use server::{Emulator, DEFAULT_STATEMENT_TIMEOUT};
pub use stats::EmulatorStats;
