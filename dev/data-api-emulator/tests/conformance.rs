//! Conformance: what the Data API of Aurora MySQL 3 answers, asked through the unmodified
//! `aws-sdk-rdsdata` client of the emulator. Each fact names where it comes from:
//!
//! - **[model]** the `rds-data` service model (`botocore/data/rds-data/2018-08-01/service-2.json`;
//!   the same shapes in `aws-sdk-rdsdata`): `DatabaseErrorException` is "There was an error in
//!   processing the SQL statement" (400); `BadRequestException` "is deprecated";
//!   `TransactionNotFoundException` is 404; `BatchExecuteStatement` answers one `UpdateResult
//!   { generatedFields }` per parameter set.
//! - **[client]** `cloud-utils/aurora-data-api`, a Data API client tested against Aurora:
//!   `aurora_data_api/base.py` finds a MySQL error by
//!   `re.search(r"Error code: (\d+); SQLState: (\d+)$", error_msg)`; its `test/base.py`
//!   stores `2020-09-17 13:49:32.780180` through `CAST(:ts AS DATETIME)` and reads back
//!   `2020-09-17 13:49:33` on MySQL, and reads `NUMERIC(10,5)` as a `DECIMAL` string.
//! - **[guide]** the Aurora user guide, "Using RDS Data API": DECIMAL is a string unless
//!   `decimalReturnType` is `DOUBLE_OR_LONG`; binary values are base64 strings and dates and
//!   times strings in `formatRecordsAs: JSON`; `TINYINT(1)`/`BIT` are booleans; "Transaction
//!   <id> isn't found" with its cause appended (Troubleshooting).
//! - **[jdbc]** the column metadata the Data API reports is MySQL Connector/J's: a DATETIME is
//!   `DATETIME` of `java.sql.Types.TIMESTAMP` (93), TEXT `TEXT` of `LONGVARCHAR` (-1), BLOB
//!   `BLOB` of `LONGVARBINARY` (-4), BIGINT UNSIGNED `BIGINT UNSIGNED` of `BIGINT` (-5), as in
//!   recorded Aurora MySQL answers that Data API clients test with.
//! - **[mysql]** MySQL 8.0's error reference: number, SQLSTATE and text of each error.
//!
//! They need a database (see `common`) and fail when it is unreachable.

use std::time::Duration;

use aws_sdk_rdsdata::operation::execute_statement::ExecuteStatementError;
use aws_sdk_rdsdata::primitives::Blob;
use aws_sdk_rdsdata::types::{Field, RecordsFormatType, SqlParameter, TypeHint};
use serde_json::{json, Value};

mod common;
use common::*;

/// A database error as the Data API words it: MySQL's message, number and SQLSTATE.
#[derive(Debug)]
struct DatabaseError {
    message: String,
    number: u32,
    sqlstate: String,
}

/// Reads `error` as a `DatabaseErrorException` ending `; Error code: N; SQLState: S` [client];
/// panics on any other exception or form.
fn database_error(error: ExecuteStatementError) -> DatabaseError {
    let full = database_error_message(error);
    let parsed = full
        .rsplit_once("; SQLState: ")
        .and_then(|(rest, sqlstate)| {
            let (message, number) = rest.rsplit_once("; Error code: ")?;
            Some(DatabaseError {
                message: message.to_owned(),
                number: number.parse().ok()?,
                sqlstate: sqlstate.to_owned(),
            })
        });
    match parsed {
        Some(error) if error.sqlstate.len() == 5 => error,
        _ => panic!("not `<message>; Error code: N; SQLState: S`: {full:?}"),
    }
}

/// The error of a statement that must fail with a database error.
async fn refused(h: &Harness, sql: &str, parameters: Vec<SqlParameter>) -> DatabaseError {
    database_error(service_error(h.execute(sql, parameters, None).await))
}

#[tokio::test]
async fn refused_statements_answer_mysql_8_number_sqlstate_and_text() {
    let h = Harness::start().await;
    h.create_table().await;
    let insert = "INSERT INTO {t} (name, price) VALUES (:name, :price)";
    let row = |name: &str, price: &str| {
        vec![
            text("name", name),
            SqlParameter::builder()
                .name("price")
                .value(Field::StringValue(price.into()))
                .type_hint(TypeHint::Decimal)
                .build(),
        ]
    };
    h.execute(insert, row("dup", "1.00"), None)
        .await
        .expect("first insert");
    let database = h
        .execute("SELECT DATABASE()", vec![], None)
        .await
        .expect("database name");
    let Some(Field::StringValue(database)) = database.records()[0].first().cloned() else {
        panic!("DATABASE() is a string");
    };

    // [mysql] ER_PARSE_ERROR; [client] maps 1064 to MySQLError.ER_PARSE_ERROR.
    let e = refused(&h, "SELEC 1", vec![]).await;
    assert_eq!((e.number, e.sqlstate.as_str()), (1064, "42000"), "{e:?}");
    assert_eq!(
        e.message,
        "You have an error in your SQL syntax; check the manual that corresponds to your MySQL \
         server version for the right syntax to use near 'SELEC 1' at line 1"
    );

    // [mysql] ER_DUP_ENTRY. MySQL 8 names the key `<table>.uq_tools_name`; MariaDB does not
    // say the table (docs/design.md lists the difference).
    let e = refused(&h, insert, row("dup", "2.00")).await;
    assert_eq!((e.number, e.sqlstate.as_str()), (1062, "23000"), "{e:?}");
    assert!(
        e.message.starts_with("Duplicate entry 'dup' for key '")
            && e.message.ends_with("uq_tools_name'"),
        "{e:?}"
    );

    // [mysql] ER_NO_SUCH_TABLE, ER_BAD_FIELD_ERROR (MySQL's clause names), ER_NON_UNIQ_ERROR.
    let e = refused(&h, "SELECT * FROM emu_no_such_table", vec![]).await;
    assert_eq!((e.number, e.sqlstate.as_str()), (1146, "42S02"), "{e:?}");
    assert_eq!(
        e.message,
        format!("Table '{database}.emu_no_such_table' doesn't exist")
    );
    for (sql, clause) in [
        ("SELECT nope FROM {t}", "field list"),
        ("SELECT id FROM {t} WHERE nope = 1", "where clause"),
        ("SELECT id FROM {t} ORDER BY nope", "order clause"),
        ("UPDATE {t} SET nope = 1", "field list"),
    ] {
        let e = refused(&h, sql, vec![]).await;
        assert_eq!((e.number, e.sqlstate.as_str()), (1054, "42S22"), "{e:?}");
        assert_eq!(
            e.message,
            format!("Unknown column 'nope' in '{clause}'"),
            "{sql}"
        );
    }
    let e = refused(&h, "SELECT id FROM {t} a JOIN {t} b ON a.id = b.id", vec![]).await;
    assert_eq!((e.number, e.sqlstate.as_str()), (1052, "23000"), "{e:?}");
    assert_eq!(e.message, "Column 'id' in field list is ambiguous");

    // [mysql] ER_DATA_TOO_LONG and ER_WARN_DATA_OUT_OF_RANGE, under MySQL 8's strict sql_mode.
    let e = refused(&h, insert, row(&"x".repeat(101), "1.00")).await;
    assert_eq!((e.number, e.sqlstate.as_str()), (1406, "22001"), "{e:?}");
    assert_eq!(e.message, "Data too long for column 'name' at row 1");
    let e = refused(&h, insert, row("big", "123456789012.00")).await;
    assert_eq!((e.number, e.sqlstate.as_str()), (1264, "22003"), "{e:?}");
    assert_eq!(e.message, "Out of range value for column 'price' at row 1");

    // [mysql] ER_QUERY_TIMEOUT, of a statement past its MAX_EXECUTION_TIME hint.
    let e = refused(
        &h,
        "SELECT /*+ MAX_EXECUTION_TIME(50) */ COUNT(*) FROM information_schema.COLUMNS a, \
         information_schema.COLUMNS b, information_schema.COLUMNS c",
        vec![],
    )
    .await;
    assert_eq!((e.number, e.sqlstate.as_str()), (3024, "HY000"), "{e:?}");
    assert_eq!(
        e.message,
        "Query execution was interrupted, maximum statement execution time exceeded"
    );
    h.drop_table().await;
}

#[tokio::test]
async fn a_refused_grant_names_the_command_user_and_table() {
    let reader = ReadOnlyUser::create().await;
    let h = harness_with_secrets(vec![(READER_ARN, reader.secret.clone())]).await;
    let sql = format!("INSERT INTO {} VALUES (2, 'two')", reader.table);
    let e = database_error(service_error(
        h.execute_as(READER_ARN, &sql, vec![], None).await,
    ));
    let (user, table) = (reader.user.clone(), reader.table.clone());
    reader.drop().await;
    // [mysql] ER_TABLEACCESS_DENIED_ERROR: "%s command denied to user '%s'@'%s' for table '%s'".
    assert_eq!((e.number, e.sqlstate.as_str()), (1142, "42000"), "{e:?}");
    assert!(
        e.message
            .starts_with(&format!("INSERT command denied to user '{user}'@'"))
            && e.message.ends_with(&format!(" for table '{table}'")),
        "{e:?}"
    );
}

#[tokio::test]
async fn lock_waits_and_deadlocks_answer_their_mysql_errors() {
    let h = Harness::start().await;
    h.create_table().await;
    for name in ["a", "b"] {
        h.execute(
            "INSERT INTO {t} (name) VALUES (:name)",
            vec![text("name", name)],
            None,
        )
        .await
        .expect("insert");
    }
    let lock = "UPDATE {t} SET score = 1 WHERE name = :name";

    // [mysql] ER_LOCK_WAIT_TIMEOUT: only the statement is rolled back; the transaction goes
    // on [client] (`test_invalid_statements` commits after a refused statement).
    let holder = h.begin().await;
    h.execute(lock, vec![text("name", "a")], Some(&holder))
        .await
        .expect("holder locks a");
    let waiter = h.begin().await;
    h.execute("SET innodb_lock_wait_timeout = 1", vec![], Some(&waiter))
        .await
        .expect("short lock wait");
    let e = database_error(service_error(
        h.execute(lock, vec![text("name", "a")], Some(&waiter))
            .await,
    ));
    assert_eq!((e.number, e.sqlstate.as_str()), (1205, "HY000"), "{e:?}");
    assert_eq!(
        e.message,
        "Lock wait timeout exceeded; try restarting transaction"
    );
    h.execute("SELECT 1", vec![], Some(&waiter))
        .await
        .expect("the waiter's transaction goes on");
    h.client
        .rollback_transaction()
        .resource_arn(RESOURCE_ARN)
        .secret_arn(SECRET_ARN)
        .transaction_id(&waiter)
        .send()
        .await
        .expect("roll back the waiter");

    // [mysql] ER_LOCK_DEADLOCK: two transactions each wait for the other's row; InnoDB rolls
    // one back at once, and with it the Data API's transaction ends [guide]: "Transaction has
    // been aborted due to an error from a previous call".
    let other = h.begin().await;
    h.execute(lock, vec![text("name", "b")], Some(&other))
        .await
        .expect("other locks b");
    let holder_waits = {
        let client = h.client.clone();
        let (sql, id) = (lock.replace("{t}", &h.table), holder.clone());
        tokio::spawn(async move {
            client
                .execute_statement()
                .resource_arn(RESOURCE_ARN)
                .secret_arn(SECRET_ARN)
                .sql(sql)
                .parameters(text("name", "b"))
                .transaction_id(id)
                .send()
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let other_waits = h.execute(lock, vec![text("name", "a")], Some(&other)).await;
    let holder_waits = holder_waits.await.expect("task");
    let (victim, error) = match (holder_waits, other_waits) {
        (Ok(_), Err(e)) => (&other, e),
        (Err(e), Ok(_)) => (&holder, e),
        (first, second) => panic!("exactly one victim expected: {first:?} / {second:?}"),
    };
    let e = database_error(service_error(Err::<(), _>(error)));
    assert_eq!((e.number, e.sqlstate.as_str()), (1213, "40001"), "{e:?}");
    assert_eq!(
        e.message,
        "Deadlock found when trying to get lock; try restarting transaction"
    );
    let gone = service_error(h.execute("SELECT 1", vec![], Some(victim)).await);
    let ExecuteStatementError::TransactionNotFoundException(gone) = gone else {
        panic!("the victim's transaction has ended: {gone:?}");
    };
    assert!(
        gone.message().unwrap_or_default().ends_with(
            "is not found: Transaction has been aborted due to an error from a previous call."
        ),
        "{gone:?}"
    );
    for id in [&holder, &other] {
        let _ = h
            .client
            .rollback_transaction()
            .resource_arn(RESOURCE_ARN)
            .secret_arn(SECRET_ARN)
            .transaction_id(id)
            .send()
            .await;
    }
    h.drop_table().await;
}

#[tokio::test]
async fn an_unknown_transaction_is_not_found_with_its_cause() {
    let h = Harness::start().await;
    let error = service_error(h.execute("SELECT 1", vec![], Some("no-such-id")).await);
    let ExecuteStatementError::TransactionNotFoundException(exception) = error else {
        panic!("expected TransactionNotFoundException [model], got {error:?}");
    };
    // [guide] "Transaction <id> isn't found", the cause appended.
    let message = exception.message().unwrap_or_default();
    assert!(
        message.starts_with("Transaction no-such-id is not found: "),
        "{message}"
    );
}

/// One row of every column type the registry uses and the common others, inserted with the
/// values of [`typed_row`].
const TYPED_TABLE: &str = "CREATE TABLE {t} (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    day DATE, at0 DATETIME, at3 DATETIME(3), at6 DATETIME(6), ts TIMESTAMP NULL,
    cast_at DATETIME, amount DECIMAL(10,5), doc JSON, body TEXT, bytes BLOB,
    big BIGINT UNSIGNED, flag TINYINT(1))";

fn typed_row() -> Vec<SqlParameter> {
    let hinted = |name: &str, value: &str, hint: TypeHint| {
        SqlParameter::builder()
            .name(name)
            .value(Field::StringValue(value.into()))
            .type_hint(hint)
            .build()
    };
    let at = "2020-09-17 13:49:32.780180";
    vec![
        hinted("day", "2020-09-17", TypeHint::Date),
        hinted("at0", at, TypeHint::Timestamp),
        hinted("at3", at, TypeHint::Timestamp),
        hinted("at6", at, TypeHint::Timestamp),
        hinted("ts", at, TypeHint::Timestamp),
        text("cast_at", at),
        hinted("amount", "2047.2047", TypeHint::Decimal),
        hinted("doc", r#"{"a": [1, 2]}"#, TypeHint::Json),
        text("body", "some text"),
        param(
            "bytes",
            Field::BlobValue(Blob::new(b"hello world".to_vec())),
        ),
        param("big", Field::LongValue(9_007_199_254_740_991)),
        param("flag", Field::BooleanValue(true)),
    ]
}

#[tokio::test]
async fn column_types_read_back_as_aurora_mysql_answers_them() {
    let h = Harness::start().await;
    h.execute(TYPED_TABLE, vec![], None)
        .await
        .expect("create the typed table");
    let inserted = h
        .execute(
            "INSERT INTO {t} (day, at0, at3, at6, ts, cast_at, amount, doc, body, bytes, big, flag) \
             VALUES (:day, :at0, :at3, :at6, :ts, CAST(:cast_at AS DATETIME), :amount, :doc, \
             :body, :bytes, :big, :flag)",
            typed_row(),
            None,
        )
        .await
        .expect("insert the typed row");
    assert_eq!(inserted.number_of_records_updated(), 1);
    assert_eq!(inserted.generated_fields(), [Field::LongValue(1)]);

    let select = "SELECT day, at0, at3, at6, ts, cast_at, amount, doc, body, bytes, big, flag \
                  FROM {t}";
    let output = h
        .client
        .execute_statement()
        .resource_arn(RESOURCE_ARN)
        .secret_arn(SECRET_ARN)
        .sql(select.replace("{t}", &h.table))
        .include_result_metadata(true)
        .send()
        .await
        .expect("select records");
    let s = |v: &str| Field::StringValue(v.into());
    // [client] MySQL rounds the fractional second a column cannot hold (…32.78 → …33).
    assert_eq!(
        output.records(),
        [vec![
            s("2020-09-17"),
            s("2020-09-17 13:49:33"),
            s("2020-09-17 13:49:32.780"),
            s("2020-09-17 13:49:32.780180"),
            s("2020-09-17 13:49:33"),
            s("2020-09-17 13:49:33"),
            s("2047.20470"),
            s(r#"{"a": [1, 2]}"#),
            s("some text"),
            Field::BlobValue(Blob::new(b"hello world".to_vec())),
            Field::LongValue(9_007_199_254_740_991),
            Field::BooleanValue(true),
        ]]
    );
    // [jdbc] type names and java.sql.Types codes. A JSON column is `JSON` of LONGVARCHAR on
    // MySQL; MariaDB's JSON is an alias of LONGTEXT and says so (docs/design.md lists it), so
    // only its type code is compared.
    let metadata: Vec<(&str, i32)> = output
        .column_metadata()
        .iter()
        .map(|c| (c.type_name().unwrap_or_default(), c.r#type()))
        .collect();
    let (json, others) = (metadata[7], [&metadata[..7], &metadata[8..]].concat());
    assert_eq!(json.1, -1);
    assert_eq!(
        others,
        [
            ("DATE", 91),
            ("DATETIME", 93),
            ("DATETIME", 93),
            ("DATETIME", 93),
            ("TIMESTAMP", 93),
            ("DATETIME", 93),
            ("DECIMAL", 3),
            ("TEXT", -1),
            ("BLOB", -4),
            ("BIGINT UNSIGNED", -5),
            ("BIT", -7),
        ]
    );
    let amount = &output.column_metadata()[6];
    assert_eq!((amount.precision(), amount.scale()), (10, 5));

    // [guide] JSON records: DECIMAL and dates as strings, binary base64, booleans as such.
    let output = h
        .client
        .execute_statement()
        .resource_arn(RESOURCE_ARN)
        .secret_arn(SECRET_ARN)
        .sql(select.replace("{t}", &h.table))
        .format_records_as(RecordsFormatType::Json)
        .send()
        .await
        .expect("select as JSON");
    let rows: Value =
        serde_json::from_str(output.formatted_records().expect("formattedRecords")).expect("JSON");
    assert_eq!(
        rows,
        json!([{
            "day": "2020-09-17",
            "at0": "2020-09-17 13:49:33",
            "at3": "2020-09-17 13:49:32.780",
            "at6": "2020-09-17 13:49:32.780180",
            "ts": "2020-09-17 13:49:33",
            "cast_at": "2020-09-17 13:49:33",
            "amount": "2047.20470",
            "doc": "{\"a\": [1, 2]}",
            "body": "some text",
            "bytes": "aGVsbG8gd29ybGQ=",
            "big": 9_007_199_254_740_991_i64,
            "flag": true,
        }])
    );
    h.drop_table().await;
}

#[tokio::test]
async fn a_batch_answers_one_update_result_per_parameter_set() {
    let h = Harness::start().await;
    h.create_table().await;
    let batch = |sql: &str, sets: Vec<Vec<SqlParameter>>| {
        h.client
            .batch_execute_statement()
            .resource_arn(RESOURCE_ARN)
            .secret_arn(SECRET_ARN)
            .sql(sql.replace("{t}", &h.table))
            .set_parameter_sets(Some(sets))
            .send()
    };
    // [model] one UpdateResult per set; inserts carry the generated id.
    let inserted = batch(
        "INSERT INTO {t} (name) VALUES (:name)",
        ["a", "b"].map(|n| vec![text("name", n)]).to_vec(),
    )
    .await
    .expect("batch insert");
    let ids: Vec<&[Field]> = inserted
        .update_results()
        .iter()
        .map(|r| r.generated_fields())
        .collect();
    assert_eq!(ids, [[Field::LongValue(1)], [Field::LongValue(2)]]);

    // An UPDATE generates nothing: one empty result per set, and no update counts (the
    // UpdateResult shape has only generatedFields).
    let updated = batch(
        "UPDATE {t} SET score = 1 WHERE name = :name",
        ["a", "b", "none"].map(|n| vec![text("name", n)]).to_vec(),
    )
    .await
    .expect("batch update");
    assert_eq!(updated.update_results().len(), 3);
    assert!(updated
        .update_results()
        .iter()
        .all(|r| r.generated_fields().is_empty()));
    let scored = h
        .execute("SELECT COUNT(*) FROM {t} WHERE score = 1", vec![], None)
        .await
        .expect("count");
    assert_eq!(scored.records(), [vec![Field::LongValue(2)]]);
    h.drop_table().await;
}
