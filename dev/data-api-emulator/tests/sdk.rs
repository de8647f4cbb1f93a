//! End-to-end tests: the unmodified `aws-sdk-rdsdata` and `aws-sdk-secretsmanager` clients
//! against an in-process emulator.
//!
//! They need a database (see `common`) and fail when it is unreachable.

use std::time::Duration;

use aws_sdk_rdsdata::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_rdsdata::operation::batch_execute_statement::BatchExecuteStatementError;
use aws_sdk_rdsdata::operation::commit_transaction::CommitTransactionError;
use aws_sdk_rdsdata::operation::execute_statement::ExecuteStatementError;
use aws_sdk_rdsdata::operation::rollback_transaction::RollbackTransactionError;
use aws_sdk_rdsdata::primitives::Blob;
use aws_sdk_rdsdata::types::{
    Field, LongReturnType, RecordsFormatType, ResultSetOptions, SqlParameter, TypeHint,
};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use data_api_emulator::{EmulatorConfig, FaultRule, InjectedError, Operation, SecretValue};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;
use common::*;

#[tokio::test]
async fn statements_round_trip_through_the_sdk() {
    let h = Harness::start().await;
    h.create_table().await;

    let insert = "INSERT INTO {t} (name, description, config, price, enabled, score, created_at, data)
                  VALUES (:name, :description, :config, :price, :enabled, :score, :created_at, :data)";
    let output = h
        .execute(
            insert,
            vec![
                text("name", "search"),
                param("description", Field::IsNull(true)),
                SqlParameter::builder()
                    .name("config")
                    .value(Field::StringValue(r#"{"depth": 2, "tags": ["a"]}"#.into()))
                    .type_hint(TypeHint::Json)
                    .build(),
                SqlParameter::builder()
                    .name("price")
                    .value(Field::StringValue("12.50".into()))
                    .type_hint(TypeHint::Decimal)
                    .build(),
                param("enabled", Field::BooleanValue(true)),
                param("score", Field::DoubleValue(0.25)),
                SqlParameter::builder()
                    .name("created_at")
                    .value(Field::StringValue("2024-01-02 03:04:05".into()))
                    .type_hint(TypeHint::Timestamp)
                    .build(),
                param("data", Field::BlobValue(Blob::new(b"hello world".to_vec()))),
            ],
            None,
        )
        .await
        .expect("insert");
    assert_eq!(output.number_of_records_updated(), 1);
    assert_eq!(output.generated_fields(), [Field::LongValue(1)]);

    // JSON format: a string holding an array of objects keyed by column label.
    let output = h
        .client
        .execute_statement()
        .resource_arn(RESOURCE_ARN)
        .secret_arn(SECRET_ARN)
        .sql(format!(
            "SELECT id, name, description, config, price, enabled, score, created_at, data \
             FROM {} WHERE name = :name",
            h.table
        ))
        .parameters(text("name", "search"))
        .format_records_as(RecordsFormatType::Json)
        .send()
        .await
        .expect("select as JSON");
    assert!(output.records().is_empty() && output.column_metadata().is_empty());
    let rows: Vec<Value> =
        serde_json::from_str(output.formatted_records().expect("formattedRecords"))
            .expect("formattedRecords is JSON");
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["id"], json!(1));
    assert_eq!(row["name"], json!("search"));
    assert_eq!(row["description"], Value::Null);
    let config: Value =
        serde_json::from_str(row["config"].as_str().expect("JSON column is a string"))
            .expect("JSON column holds JSON text");
    assert_eq!(config, json!({"depth": 2, "tags": ["a"]}));
    assert_eq!(row["price"], json!("12.50"));
    assert_eq!(row["enabled"], json!(true));
    assert_eq!(row["score"], json!(0.25));
    assert_eq!(row["created_at"], json!("2024-01-02 03:04:05"));
    assert_eq!(row["data"], json!("aGVsbG8gd29ybGQ="));

    // Records with metadata.
    let output = h
        .client
        .execute_statement()
        .resource_arn(RESOURCE_ARN)
        .secret_arn(SECRET_ARN)
        .sql(format!(
            "SELECT id, name AS label, description, price, enabled, score, data FROM {}",
            h.table
        ))
        .include_result_metadata(true)
        .send()
        .await
        .expect("select records");
    assert_eq!(output.number_of_records_updated(), 0);
    assert_eq!(
        output.records(),
        [vec![
            Field::LongValue(1),
            Field::StringValue("search".into()),
            Field::IsNull(true),
            Field::StringValue("12.50".into()),
            Field::BooleanValue(true),
            Field::DoubleValue(0.25),
            Field::BlobValue(Blob::new(b"hello world".to_vec())),
        ]]
    );
    let metadata = output.column_metadata();
    assert_eq!(metadata.len(), 7);
    assert_eq!(metadata[0].name(), Some("id"));
    assert_eq!(metadata[0].type_name(), Some("BIGINT"));
    assert!(metadata[0].is_auto_increment());
    assert_eq!(metadata[1].name(), Some("name"));
    assert_eq!(metadata[1].label(), Some("label"));
    assert_eq!(metadata[1].type_name(), Some("VARCHAR"));
    assert_eq!(metadata[1].nullable(), 0);
    assert_eq!(metadata[2].nullable(), 1);
    assert_eq!(metadata[3].type_name(), Some("DECIMAL"));
    assert_eq!((metadata[3].precision(), metadata[3].scale()), (10, 2));

    // resultSetOptions and UPDATE counts.
    let output = h
        .client
        .execute_statement()
        .resource_arn(RESOURCE_ARN)
        .secret_arn(SECRET_ARN)
        .sql(format!("SELECT id FROM {}", h.table))
        .result_set_options(
            ResultSetOptions::builder()
                .long_return_type(LongReturnType::String)
                .build(),
        )
        .send()
        .await
        .expect("select with options");
    assert_eq!(output.records(), [vec![Field::StringValue("1".into())]]);
    let output = h
        .execute(
            "UPDATE {t} SET score = :score WHERE id = :id",
            vec![
                param("score", Field::DoubleValue(0.25)),
                param("id", Field::LongValue(1)),
            ],
            None,
        )
        .await
        .expect("update");
    assert_eq!(
        output.number_of_records_updated(),
        1,
        "matched rows, as JDBC reports"
    );
    assert!(output.generated_fields().is_empty());

    assert_eq!(h.emulator.stats().execute_statements, 6);
    h.drop_table().await;
}

#[tokio::test]
async fn transactions_roll_back_and_commit() {
    let h = Harness::start().await;
    h.create_table().await;

    let tx = h.begin().await;
    h.execute(
        "INSERT INTO {t} (name) VALUES (:name)",
        vec![text("name", "a")],
        Some(&tx),
    )
    .await
    .expect("insert in transaction");
    let inside = h
        .execute("SELECT name FROM {t}", vec![], Some(&tx))
        .await
        .expect("select in transaction");
    assert_eq!(
        inside.records().len(),
        1,
        "the transaction sees its own insert"
    );
    assert_eq!(h.count().await, 0, "others do not");
    let status = h
        .client
        .rollback_transaction()
        .resource_arn(RESOURCE_ARN)
        .secret_arn(SECRET_ARN)
        .transaction_id(&tx)
        .send()
        .await
        .expect("rollback");
    assert_eq!(status.transaction_status(), Some("Rollback Complete"));
    assert_eq!(h.count().await, 0);

    let tx = h.begin().await;
    h.execute(
        "INSERT INTO {t} (name) VALUES (:name)",
        vec![text("name", "b")],
        Some(&tx),
    )
    .await
    .expect("insert in transaction");
    let status = h
        .client
        .commit_transaction()
        .resource_arn(RESOURCE_ARN)
        .secret_arn(SECRET_ARN)
        .transaction_id(&tx)
        .send()
        .await
        .expect("commit");
    assert_eq!(status.transaction_status(), Some("Transaction Committed"));
    assert_eq!(h.count().await, 1);

    // A finished transaction is gone.
    let error = service_error(
        h.client
            .commit_transaction()
            .resource_arn(RESOURCE_ARN)
            .secret_arn(SECRET_ARN)
            .transaction_id(&tx)
            .send()
            .await,
    );
    assert!(
        matches!(
            error,
            CommitTransactionError::TransactionNotFoundException(_)
        ),
        "{error:?}"
    );

    let stats = h.emulator.stats();
    assert_eq!(
        (
            stats.transactions_begun,
            stats.transactions_committed,
            stats.transactions_rolled_back
        ),
        (2, 1, 1)
    );
    assert_eq!(stats.open_transactions, 0);
    h.drop_table().await;
}

#[tokio::test]
async fn batch_execute_runs_every_parameter_set_atomically() {
    let h = Harness::start().await;
    h.create_table().await;

    let sets = ["a", "b", "c"]
        .map(|name| vec![text("name", name)])
        .to_vec();
    let output = h
        .client
        .batch_execute_statement()
        .resource_arn(RESOURCE_ARN)
        .secret_arn(SECRET_ARN)
        .sql(format!("INSERT INTO {} (name) VALUES (:name)", h.table))
        .set_parameter_sets(Some(sets))
        .send()
        .await
        .expect("batch insert");
    let ids: Vec<_> = output
        .update_results()
        .iter()
        .map(|result| result.generated_fields().to_vec())
        .collect();
    assert_eq!(
        ids,
        [
            vec![Field::LongValue(1)],
            vec![Field::LongValue(2)],
            vec![Field::LongValue(3)]
        ]
    );

    // A failing set undoes the whole batch.
    let sets = ["d", "a", "e"]
        .map(|name| vec![text("name", name)])
        .to_vec();
    let error = service_error(
        h.client
            .batch_execute_statement()
            .resource_arn(RESOURCE_ARN)
            .secret_arn(SECRET_ARN)
            .sql(format!("INSERT INTO {} (name) VALUES (:name)", h.table))
            .set_parameter_sets(Some(sets))
            .send()
            .await,
    );
    assert!(
        matches!(error, BatchExecuteStatementError::DatabaseErrorException(_)),
        "{error:?}"
    );
    assert_eq!(h.count().await, 3);
    assert_eq!(h.emulator.stats().batch_execute_statements, 2);
    h.drop_table().await;
}

#[tokio::test]
async fn database_errors_reach_the_sdk_as_typed_errors() {
    let h = Harness::start().await;
    h.create_table().await;

    let insert = "INSERT INTO {t} (name) VALUES (:name)";
    h.execute(insert, vec![text("name", "dup")], None)
        .await
        .expect("first insert");
    let error = service_error(h.execute(insert, vec![text("name", "dup")], None).await);
    let ExecuteStatementError::DatabaseErrorException(ref exception) = error else {
        panic!("expected DatabaseErrorException, got {error:?}");
    };
    let message = exception.message().unwrap_or_default();
    assert!(
        message.contains("Duplicate entry 'dup' for key"),
        "unexpected message {message:?}"
    );

    let error = service_error(h.execute("SELEC 1", vec![], None).await);
    assert!(error.is_database_error_exception(), "{error:?}");

    let error = service_error(h.execute("SELECT 1; SELECT 2", vec![], None).await);
    assert_eq!(error.code(), Some("ValidationException"));

    let error = service_error(h.execute("SELECT :missing", vec![], None).await);
    assert!(error.is_bad_request_exception(), "{error:?}");

    h.drop_table().await;
}

#[tokio::test]
async fn unknown_transactions_are_not_found() {
    let h = Harness::start().await;
    let bogus = "no-such-transaction";

    let error = service_error(h.execute("SELECT 1", vec![], Some(bogus)).await);
    assert!(error.is_transaction_not_found_exception(), "{error:?}");
    let error = service_error(
        h.client
            .commit_transaction()
            .resource_arn(RESOURCE_ARN)
            .secret_arn(SECRET_ARN)
            .transaction_id(bogus)
            .send()
            .await,
    );
    assert!(
        matches!(
            error,
            CommitTransactionError::TransactionNotFoundException(_)
        ),
        "{error:?}"
    );
    let error = service_error(
        h.client
            .rollback_transaction()
            .resource_arn(RESOURCE_ARN)
            .secret_arn(SECRET_ARN)
            .transaction_id(bogus)
            .send()
            .await,
    );
    assert!(
        matches!(
            error,
            RollbackTransactionError::TransactionNotFoundException(_)
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_busy_transaction_rejects_concurrent_calls() {
    let h = Harness::start().await;
    let tx = h.begin().await;
    let slow = h.execute("SELECT SLEEP(1)", vec![], Some(&tx));
    let concurrent = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        h.execute("SELECT 1", vec![], Some(&tx)).await
    };
    let (slow, concurrent) = tokio::join!(slow, concurrent);
    slow.expect("the first call completes");
    let error = service_error(concurrent);
    let ExecuteStatementError::DatabaseErrorException(ref exception) = error else {
        panic!("expected DatabaseErrorException, got {error:?}");
    };
    assert_eq!(
        exception.message(),
        Some("Transaction is still running a query")
    );
    h.client
        .rollback_transaction()
        .resource_arn(RESOURCE_ARN)
        .secret_arn(SECRET_ARN)
        .transaction_id(&tx)
        .send()
        .await
        .expect("the transaction is still usable");
}

#[tokio::test]
async fn a_refused_statement_leaves_its_transaction_open_and_a_deadlock_ends_it() {
    let h = Harness::start().await;
    h.create_table().await;
    h.execute("INSERT INTO {t} (name) VALUES ('taken')", vec![], None)
        .await
        .expect("insert");

    // A duplicate key undoes the statement alone; the transaction commits what came before
    // (clients tested against Aurora commit after a refused statement:
    // cloud-utils/aurora-data-api, test/test_sync.py, test_invalid_statements).
    let tx = h.begin().await;
    h.execute("INSERT INTO {t} (name) VALUES ('new')", vec![], Some(&tx))
        .await
        .expect("insert in transaction");
    let error = service_error(
        h.execute("INSERT INTO {t} (name) VALUES ('taken')", vec![], Some(&tx))
            .await,
    );
    assert!(error.is_database_error_exception(), "{error:?}");
    h.client
        .commit_transaction()
        .resource_arn(RESOURCE_ARN)
        .secret_arn(SECRET_ARN)
        .transaction_id(&tx)
        .send()
        .await
        .expect("the transaction is still open");
    assert_eq!(h.count().await, 2);
    assert_eq!(h.emulator.stats().transactions_aborted, 0);
    h.drop_table().await;
}

#[tokio::test]
async fn idle_transactions_are_rolled_back() {
    let config = EmulatorConfig {
        transaction_idle_timeout: Duration::from_millis(300),
        ..EmulatorConfig::from_env()
    };
    let h = Harness::with_config(config).await;
    h.create_table().await;

    let tx = h.begin().await;
    h.execute("INSERT INTO {t} (name) VALUES ('idle')", vec![], Some(&tx))
        .await
        .expect("insert in transaction");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(h.emulator.stats().open_transactions, 0);
    assert_eq!(h.emulator.stats().transactions_expired, 1);
    let error = service_error(h.execute("SELECT 1", vec![], Some(&tx)).await);
    assert!(error.is_transaction_not_found_exception(), "{error:?}");
    assert_eq!(h.count().await, 0);
    h.drop_table().await;
}

#[tokio::test]
async fn injected_faults_and_timeouts_are_typed_errors() {
    let h = Harness::start().await;

    h.emulator.fail_next(1, InjectedError::ServiceUnavailable);
    let error = service_error(h.execute("SELECT 1", vec![], None).await);
    assert!(error.is_service_unavailable_error(), "{error:?}");
    h.execute("SELECT 1", vec![], None)
        .await
        .expect("the next call succeeds");

    h.emulator.fail_next(1, InjectedError::DatabaseUnavailable);
    let error = service_error(h.execute("SELECT 1", vec![], None).await);
    assert!(error.is_database_unavailable_exception(), "{error:?}");

    h.emulator.set_unavailable(true);
    for _ in 0..2 {
        let error = service_error(h.execute("SELECT 1", vec![], None).await);
        assert!(error.is_service_unavailable_error(), "{error:?}");
    }
    h.emulator.set_unavailable(false);
    assert_eq!(h.emulator.stats().injected_faults, 4);

    h.emulator.set_statement_timeout(Duration::from_millis(300));
    let error = service_error(h.execute("SELECT SLEEP(5)", vec![], None).await);
    let ExecuteStatementError::StatementTimeoutException(ref exception) = error else {
        panic!("expected StatementTimeoutException, got {error:?}");
    };
    assert!(exception.db_connection_id() > 0);

    // Without continueAfterTimeout the statement is killed on the server.
    h.emulator.set_statement_timeout(Duration::from_secs(45));
    assert!(
        h.statement_killed(SECRET_ARN, exception.db_connection_id())
            .await,
        "the timed-out statement is still running"
    );
}

#[tokio::test]
async fn the_database_member_selects_the_schema() {
    let h = Harness::start().await;
    let output = h
        .client
        .execute_statement()
        .resource_arn(RESOURCE_ARN)
        .secret_arn(SECRET_ARN)
        .database("information_schema")
        .sql("SELECT DATABASE() AS db")
        .format_records_as(RecordsFormatType::Json)
        .send()
        .await
        .expect("select database");
    assert_eq!(
        output.formatted_records(),
        Some(r#"[{"db":"information_schema"}]"#)
    );

    let error = service_error(
        h.client
            .execute_statement()
            .resource_arn(RESOURCE_ARN)
            .secret_arn(SECRET_ARN)
            .schema("public")
            .sql("SELECT 1")
            .send()
            .await,
    );
    assert_eq!(error.code(), Some("ValidationException"));
}

#[tokio::test]
async fn a_dropped_insert_answer_is_retried_by_the_sdk_and_hits_its_own_row() {
    let h = Harness::start().await;
    h.create_table().await;
    let client = h.retrying_client(None);
    h.emulator
        .add_fault(FaultRule::drop_response_of_statement("INSERT", 1));

    let result = client
        .execute_statement()
        .resource_arn(RESOURCE_ARN)
        .secret_arn(SECRET_ARN)
        .sql(format!(
            "INSERT INTO {} (id, name) VALUES (7, 'once')",
            h.table
        ))
        .send()
        .await;
    // The first attempt inserted the row; its answer was dropped; the SDK's retry of the
    // very same request then collided with that row.
    let error = service_error(result);
    let ExecuteStatementError::DatabaseErrorException(ref exception) = error else {
        panic!("expected DatabaseErrorException, got {error:?}");
    };
    let message = exception.message().unwrap_or_default();
    assert!(
        message.contains("Duplicate entry '7' for key"),
        "unexpected message {message:?}"
    );
    let stats = h.emulator.stats();
    assert_eq!(stats.dropped_responses, 1);
    assert_eq!(
        stats.execute_statements, 3,
        "CREATE TABLE and two INSERT attempts"
    );
    assert_eq!(h.count().await, 1);
    h.drop_table().await;
}

#[tokio::test]
async fn a_dropped_commit_answer_leaves_the_transaction_committed() {
    let h = Harness::start().await;
    h.create_table().await;
    let client = h.retrying_client(None);

    let tx = h.begin().await;
    h.execute("INSERT INTO {t} (name) VALUES ('kept')", vec![], Some(&tx))
        .await
        .expect("insert in transaction");
    h.emulator
        .add_fault(FaultRule::drop_response(Operation::CommitTransaction, 1));
    let result = client
        .commit_transaction()
        .resource_arn(RESOURCE_ARN)
        .secret_arn(SECRET_ARN)
        .transaction_id(&tx)
        .send()
        .await;
    // The retry finds the transaction already gone: it was committed.
    let error = service_error(result);
    assert!(
        matches!(
            error,
            CommitTransactionError::TransactionNotFoundException(_)
        ),
        "{error:?}"
    );
    let stats = h.emulator.stats();
    assert_eq!(
        (
            stats.dropped_responses,
            stats.transactions_committed,
            stats.open_transactions
        ),
        (1, 1, 0)
    );
    assert_eq!(h.count().await, 1, "the row was committed");
    h.drop_table().await;
}

#[tokio::test]
async fn a_delayed_select_answer_times_out_and_the_retry_answers() {
    let h = Harness::start().await;
    let client = h.retrying_client(Some(Duration::from_millis(400)));
    h.emulator.add_fault(FaultRule::delay(
        Operation::Execute,
        Some("select"),
        Duration::from_secs(3),
        1,
    ));

    let started = std::time::Instant::now();
    let output = client
        .execute_statement()
        .resource_arn(RESOURCE_ARN)
        .secret_arn(SECRET_ARN)
        .sql("SELECT 42")
        .send()
        .await
        .expect("the retry answers");
    assert_eq!(output.records(), [vec![Field::LongValue(42)]]);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the delayed answer was not awaited ({:?})",
        started.elapsed()
    );
    let stats = h.emulator.stats();
    assert_eq!(stats.delayed_responses, 1);
    assert_eq!(stats.execute_statements, 2);
}

#[tokio::test]
async fn a_statement_rule_leaves_other_statements_alone() {
    let h = Harness::start().await;
    h.create_table().await;
    h.execute("INSERT INTO {t} (name) VALUES ('a')", vec![], None)
        .await
        .expect("insert");
    h.emulator
        .add_fault(FaultRule::drop_response_of_statement("UPDATE", 1));

    let output = h
        .execute("SELECT name FROM {t}", vec![], None)
        .await
        .expect("a SELECT is not affected");
    assert_eq!(output.records().len(), 1);
    h.client
        .begin_transaction()
        .resource_arn(RESOURCE_ARN)
        .secret_arn(SECRET_ARN)
        .send()
        .await
        .expect("nor is BeginTransaction");
    assert_eq!(h.emulator.stats().dropped_responses, 0);

    // The rule is still armed; without retries the dropped answer reaches the caller as a
    // transport error, although the UPDATE ran.
    let result = h
        .execute("/* rename */ update {t} SET name = 'b'", vec![], None)
        .await;
    assert!(
        matches!(result, Err(SdkError::DispatchFailure(_))),
        "{result:?}"
    );
    assert_eq!(h.emulator.stats().dropped_responses, 1);
    let output = h
        .execute("SELECT name FROM {t}", vec![], None)
        .await
        .expect("select");
    assert_eq!(output.records(), [vec![Field::StringValue("b".into())]]);
    h.drop_table().await;
}

/// Sends raw HTTP/1.1 `requests` on one connection and returns everything read until the
/// server closes it.
async fn raw_http(addr: std::net::SocketAddr, requests: &[(&str, &str, Option<Value>)]) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut wire = String::new();
    for (i, (method, path, body)) in requests.iter().enumerate() {
        let body = body.as_ref().map(Value::to_string).unwrap_or_default();
        let connection = if i + 1 == requests.len() {
            "close"
        } else {
            "keep-alive"
        };
        wire.push_str(&format!(
            "{method} {path} HTTP/1.1\r\nHost: emulator\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: {connection}\r\n\r\n{body}",
            body.len()
        ));
    }
    stream.write_all(wire.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .expect("read");
    String::from_utf8(answer).expect("UTF-8 answer")
}

#[tokio::test]
async fn http_controls_arm_rules_and_a_dropped_answer_is_a_silent_close() {
    let h = Harness::start().await;
    let rules = json!({"rules": [
        {"action": "dropResponse", "operation": "Execute", "statement": "select"},
        {"action": "delay", "operation": "CommitTransaction", "delayMs": 3000, "count": 2}
    ]});
    let answer = raw_http(h.addr, &[("POST", "/_emulator/faults", Some(rules))]).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains(
            r#""rules":[{"action":"dropResponse","operation":"Execute","statement":"SELECT","count":1},{"action":"delay","operation":"CommitTransaction","delayMs":3000,"count":2}]"#
        ),
        "{answer}"
    );

    let bad = json!({"rules": [{"action": "delay", "operation": "Execute"}]});
    let answer = raw_http(h.addr, &[("POST", "/_emulator/faults", Some(bad))]).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");

    // Not a byte comes back for the dropped call, not even on a kept-alive connection
    // that answered before.
    let call = json!({"resourceArn": RESOURCE_ARN, "secretArn": SECRET_ARN, "sql": "SELECT 1"});
    let answer = raw_http(
        h.addr,
        &[
            ("GET", "/_emulator/health", None),
            ("POST", "/Execute", Some(call.clone())),
            ("GET", "/_emulator/health", None),
        ],
    )
    .await;
    assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer}");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(r#"{"status":"ok"}"#), "{answer}");
    assert_eq!(h.emulator.stats().dropped_responses, 1);
    assert_eq!(h.emulator.stats().execute_statements, 1, "the call ran");

    // The rule is used up: the same call is answered, and keep-alive works.
    let answer = raw_http(
        h.addr,
        &[
            ("POST", "/Execute", Some(call.clone())),
            ("POST", "/Execute", Some(call)),
        ],
    )
    .await;
    assert_eq!(answer.matches("HTTP/1.1 200").count(), 2, "{answer}");

    let answer = raw_http(
        h.addr,
        &[(
            "POST",
            "/_emulator/faults",
            Some(json!({"clearRules": true})),
        )],
    )
    .await;
    assert!(answer.contains(r#""rules":[]"#), "{answer}");
    let answer = raw_http(h.addr, &[("GET", "/_emulator/stats", None)]).await;
    assert!(
        answer.contains(r#""droppedResponses":1,"delayedResponses":0"#),
        "{answer}"
    );
}

#[tokio::test]
async fn a_secret_runs_statements_as_its_database_user() {
    let reader = ReadOnlyUser::create().await;
    let h = harness_with_secrets(vec![(READER_ARN, reader.secret.clone())]).await;
    let select = format!("SELECT name, CURRENT_USER() AS user FROM {}", reader.table);
    let insert = format!("INSERT INTO {} VALUES (2, 'two')", reader.table);

    // Run everything first, so that the user and table are dropped even if a check fails.
    let selected = h.execute_as(READER_ARN, &select, vec![], None).await;
    let inserted = h.execute_as(READER_ARN, &insert, vec![], None).await;
    let tx = h.begin_as(READER_ARN).await.expect("begin as the reader");
    let selected_in_tx = h.execute_as(READER_ARN, &select, vec![], Some(&tx)).await;
    let inserted_in_tx = h.execute_as(READER_ARN, &insert, vec![], Some(&tx)).await;
    // The refused insert leaves the transaction open; ending it frees the table to drop.
    let rolled_back = h
        .client
        .rollback_transaction()
        .resource_arn(RESOURCE_ARN)
        .secret_arn(READER_ARN)
        .transaction_id(&tx)
        .send()
        .await;
    let timed_out = h
        .execute_as(READER_ARN, "SELECT SLEEP(10)", vec![], None)
        .await;
    let killed = match &timed_out {
        Err(SdkError::ServiceError(error)) => match error.err() {
            ExecuteStatementError::StatementTimeoutException(exception) => Some(
                h.statement_killed(READER_ARN, exception.db_connection_id())
                    .await,
            ),
            _ => None,
        },
        _ => None,
    };
    reader.drop().await;

    let rows = selected.expect("the reader may SELECT").records().to_vec();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0], Field::StringValue("one".into()));
    let Field::StringValue(current_user) = &rows[0][1] else {
        panic!("unexpected CURRENT_USER() {:?}", rows[0][1]);
    };
    assert!(
        current_user.starts_with("emu_ro_"),
        "the statement ran as {current_user}"
    );
    let message = database_error_message(service_error(inserted));
    assert!(message.contains("INSERT command denied"), "{message}");

    assert_eq!(
        selected_in_tx
            .expect("the reader may SELECT in its transaction")
            .records(),
        rows
    );
    let message = database_error_message(service_error(inserted_in_tx));
    assert!(message.contains("INSERT command denied"), "{message}");
    rolled_back.expect("a refused statement leaves its transaction open");
    assert_eq!(h.emulator.stats().transactions_aborted, 0);

    assert_eq!(
        killed,
        Some(true),
        "a timed-out statement of the reader is killed: {timed_out:?}"
    );
}

#[tokio::test]
async fn unusable_secrets_are_secrets_errors_and_wrong_passwords_database_errors() {
    let url = EmulatorConfig::from_env().mysql_url;
    let url_user = mysql_async::Opts::from_url(&url)
        .expect("EMULATOR_MYSQL_URL")
        .user()
        .expect("a user in EMULATOR_MYSQL_URL")
        .to_owned();
    let wrong_password = SecretValue::Credentials {
        username: url_user,
        password: "not-the-password".into(),
    };
    let h = harness_with_secrets(vec![
        (SECRET_ARN, wrong_password),
        (TEXT_ARN, SecretValue::Text("a signing key".into())),
    ])
    .await;

    for arn in [UNKNOWN_ARN, TEXT_ARN] {
        let error = service_error(h.execute_as(arn, "SELECT 1", vec![], None).await);
        // The model's `SecretsErrorException`: "The secret provided wasn't found." (among
        // its causes, aws-sdk-rdsdata `types/error/_secrets_error_exception.rs`).
        let ExecuteStatementError::SecretsErrorException(ref exception) = error else {
            panic!("expected SecretsErrorException for {arn}, got {error:?}");
        };
        let message = exception.message().unwrap_or_default();
        assert!(
            message.starts_with(&format!("Error fetching secret {arn} : ")),
            "{message}"
        );
        let error = service_error(h.begin_as(arn).await);
        assert!(error.is_secrets_error_exception(), "{error:?}");
    }
    let error = service_error(h.execute_as(UNKNOWN_ARN, "SELECT 1", vec![], None).await);
    assert_eq!(
        error.message(),
        Some(
            "Error fetching secret arn:aws:secretsmanager:us-east-1:123456789012:secret:nope : \
             Secrets Manager can't find the specified secret."
        )
    );

    let message = database_error_message(service_error(h.execute("SELECT 1", vec![], None).await));
    assert!(message.contains("Access denied for user"), "{message}");
    assert_eq!(h.emulator.stats().open_transactions, 0);
}

#[tokio::test]
async fn get_secret_value_serves_the_configured_secrets_to_the_sdk() {
    let credentials = SecretValue::Credentials {
        username: "reader".into(),
        password: "p@ss \"word\"".into(),
    };
    let h = harness_with_secrets(vec![
        (READER_ARN, credentials),
        (TEXT_ARN, SecretValue::Text("a signing key".into())),
    ])
    .await;
    let secrets = aws_sdk_secretsmanager::Client::new(&h.sdk_config);

    let output = secrets
        .get_secret_value()
        .secret_id(READER_ARN)
        .send()
        .await
        .expect("credentials secret by ARN");
    assert_eq!(output.arn(), Some(READER_ARN));
    assert_eq!(output.name(), Some("emulator-reader"));
    let secret_string: Value =
        serde_json::from_str(output.secret_string().expect("SecretString")).expect("JSON");
    assert_eq!(
        secret_string,
        json!({"username": "reader", "password": "p@ss \"word\""})
    );
    assert_eq!(output.version_stages(), ["AWSCURRENT"]);
    assert!(output.version_id().is_some_and(|id| !id.is_empty()));
    assert!(output.created_date().is_some_and(|date| date.secs() > 0));

    let output = secrets
        .get_secret_value()
        .secret_id("emulator-jwt-key")
        .send()
        .await
        .expect("text secret by name");
    assert_eq!(output.arn(), Some(TEXT_ARN));
    assert_eq!(output.secret_string(), Some("a signing key"));

    let error = service_error(
        secrets
            .get_secret_value()
            .secret_id(UNKNOWN_ARN)
            .send()
            .await,
    );
    let GetSecretValueError::ResourceNotFoundException(ref exception) = error else {
        panic!("expected ResourceNotFoundException, got {error:?}");
    };
    assert_eq!(
        exception.message(),
        Some("Secrets Manager can't find the specified secret.")
    );

    let answer = raw_http(
        h.addr,
        &[("POST", "/", Some(json!({"SecretId": READER_ARN})))],
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.ends_with(r#"{"__type":"UnknownOperationException"}"#),
        "{answer}"
    );
}
