//! A local stand-in for the Amazon RDS Data API, running statements on MySQL/MariaDB.
//!
//! It speaks the REST-JSON protocol the unmodified `aws-sdk-rdsdata` client sends: point the
//! client's endpoint URL at it (for example `AWS_ENDPOINT_URL_RDS_DATA=http://127.0.0.1:8080`)
//! with any credentials (requests are not authenticated), and it answers what the Data API
//! of Aurora MySQL (Serverless v2 / provisioned) answers.
//!
//! # HTTP surface
//!
//! | Route                         | Operation                                               |
//! |-------------------------------|---------------------------------------------------------|
//! | `POST /Execute`               | `ExecuteStatement`                                      |
//! | `POST /BatchExecute`          | `BatchExecuteStatement`                                 |
//! | `POST /BeginTransaction`      | `BeginTransaction`                                      |
//! | `POST /CommitTransaction`     | `CommitTransaction`                                     |
//! | `POST /RollbackTransaction`   | `RollbackTransaction`                                   |
//! | `GET /_emulator/stats`        | [`EmulatorStats`] as JSON                               |
//! | `GET`/`POST /_emulator/faults`| read/change latency and injected failures (see below)   |
//! | `GET /_emulator/health`       | `{"status":"ok"}` when the database answers             |
//!
//! `POST /_emulator/faults` takes `{"latencyMs": u64, "failNext": u32, "failWith":
//! "ServiceUnavailableError" | "DatabaseUnavailableException" | "StatementTimeoutException" |
//! "DatabaseResumingException", "unavailable": bool}`, every member optional, and answers the
//! resulting settings.
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
//!   `DatabaseErrorException` carrying the server's message, an unreachable database a
//!   `DatabaseUnavailableException` (504), an unknown transaction a
//!   `TransactionNotFoundException` (404).
//! - Transactions hold a dedicated connection; a concurrent call on a busy transaction fails
//!   with `Transaction is still running a query`; a failing statement aborts its
//!   transaction; an idle one is rolled back after the idle timeout (3 minutes by default).
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
//! # Ok(()) }
//! ```

mod config;
mod db;
mod error;
mod faults;
mod params;
mod protocol;
mod results;
mod server;
mod stats;
mod transactions;
mod values;

pub use config::{EmulatorConfig, DEFAULT_MYSQL_URL, DEFAULT_TRANSACTION_IDLE_TIMEOUT};
pub use faults::InjectedError;
pub use server::{Emulator, DEFAULT_STATEMENT_TIMEOUT};
pub use stats::EmulatorStats;
