//! The schema-migrator custom resource, driven with CloudFormation's own events
//! (`events/schema-*.json`) against the emulator: a first deploy provisions, a re-deploy with
//! nothing new applies nothing, a new migration is applied, a failing one is reported `FAILED`
//! with its reason (CloudFormation then rolls back), and a delete keeps the data. Each answer is
//! delivered the way CloudFormation takes it: a `PUT` of JSON to the request's `ResponseURL`.

use std::time::Duration;

use axum::body::Bytes;
use axum::routing::put;
use http::HeaderMap;
use integration_tests::{as_function, data_api, secrets_client, test_config, EmptyDatabase};
use schema_migrator::{answer, response_url, Migrator, Request};
use serde_json::Value;
use shared::config::{Config, Function};
use shared::store::migrations::{Migration, MIGRATIONS};
use tokio::sync::mpsc;

/// Where the tests' CloudFormation waits for answers.
struct CloudFormation {
    url: String,
    answers: mpsc::UnboundedReceiver<(HeaderMap, Value)>,
}

impl CloudFormation {
    async fn start() -> Self {
        let (sender, answers) = mpsc::unbounded_channel();
        let app = axum::Router::new().route(
            "/{*object}",
            put(move |headers: HeaderMap, body: Bytes| {
                let sender = sender.clone();
                async move {
                    let answer = serde_json::from_slice(&body).expect("the answer is JSON");
                    sender.send((headers, answer)).unwrap();
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/stack-answers/schema?X-Amz-Signature=abc",
            listener.local_addr().unwrap()
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, answers }
    }

    /// The event in `events/{file}`, answered here.
    fn event(&self, file: &str) -> Request {
        let path = format!("{}/../events/{file}", env!("CARGO_MANIFEST_DIR"));
        let mut event: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        event["ResponseURL"] = self.url.clone().into();
        serde_json::from_value(event).expect("a CloudFormation custom resource request")
    }

    /// Sends `events/{file}` to `migrator` as Lambda would, and returns the answer as delivered.
    async fn deploy(&mut self, migrator: &Migrator, file: &str) -> (HeaderMap, Value) {
        let request = self.event(file);
        let response = migrator.handle(&request, Duration::from_secs(60)).await;
        answer(response_url(&request), &response).await.unwrap();
        self.answers.recv().await.unwrap()
    }
}

fn migrator(db: &EmptyDatabase, config: &Config, migrations: &[Migration]) -> Migrator {
    Migrator::new(
        data_api(db.emulator_addr, config),
        secrets_client(db.emulator_addr),
        |_| None,
        migrations,
        format!(
            "{}/{}",
            config.database.cluster_arn, config.database.database
        ),
    )
}

async fn applied_versions(db: &EmptyDatabase) -> Vec<i64> {
    #[derive(serde::Deserialize)]
    struct Row {
        version: i64,
    }
    let rows: Vec<Row> = db
        .db
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            vec![],
        )
        .await
        .unwrap();
    rows.into_iter().map(|r| r.version).collect()
}

fn all_versions() -> Vec<i64> {
    MIGRATIONS.iter().map(|m| m.version).collect()
}

fn joined(versions: &[i64]) -> String {
    versions
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[tokio::test]
async fn a_deploy_provisions_a_redeploy_applies_nothing_and_a_delete_keeps_the_data() {
    let config = test_config("redis://unused");
    let db = EmptyDatabase::create(&config).await;
    let mut cloudformation = CloudFormation::start().await;
    let migrator = migrator(&db, &config, MIGRATIONS);
    let latest = MIGRATIONS.last().unwrap().version.to_string();

    let (headers, created) = cloudformation.deploy(&migrator, "schema-create.json").await;
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    assert_eq!(created["Data"]["SchemaVersion"], latest.as_str());
    assert_eq!(created["Data"]["Applied"], joined(&all_versions()).as_str());
    assert_eq!(created["RequestId"], "0f6a2b3c-4d5e-4f60-8a71-b2c3d4e5f607");
    assert_eq!(created["LogicalResourceId"], "Schema");
    assert!(created["StackId"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:cloudformation:"));
    let physical_id = created["PhysicalResourceId"].as_str().unwrap().to_owned();
    assert!(
        physical_id.ends_with(&config.database.database),
        "{physical_id}"
    );
    // The URL is signed for no Content-Type.
    assert!(headers.get(http::header::CONTENT_TYPE).is_none());
    assert_eq!(applied_versions(&db).await, all_versions());

    // Each function's user exists, with its rights and no more.
    let read = data_api(db.emulator_addr, &as_function(&config, Function::ToolsRead));
    read.execute("SELECT COUNT(*) FROM tools", vec![])
        .await
        .expect("tools-read reads the catalogue");
    read.execute("DELETE FROM tools", vec![])
        .await
        .expect_err("tools-read deletes nothing");

    let (_, updated) = cloudformation.deploy(&migrator, "schema-update.json").await;
    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    assert_eq!(updated["Data"]["Applied"], "");
    assert_eq!(updated["Data"]["SchemaVersion"], latest.as_str());
    assert_eq!(updated["PhysicalResourceId"], physical_id.as_str());

    let (_, deleted) = cloudformation.deploy(&migrator, "schema-delete.json").await;
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    assert_eq!(
        applied_versions(&db).await,
        all_versions(),
        "the data stays"
    );
}

#[tokio::test]
async fn a_new_migration_is_applied_and_a_failing_one_fails_the_deploy_with_its_reason() {
    let config = test_config("redis://unused");
    let db = EmptyDatabase::create(&config).await;
    let mut cloudformation = CloudFormation::start().await;
    let (_, first) = cloudformation
        .deploy(&migrator(&db, &config, MIGRATIONS), "schema-create.json")
        .await;
    assert_eq!(first["Status"], "SUCCESS", "{first}");

    let mut with_new = MIGRATIONS.to_vec();
    with_new.push(Migration {
        version: 1_000,
        name: "deploy_probe",
        sql: "CREATE TABLE IF NOT EXISTS deploy_probe (id BIGINT NOT NULL PRIMARY KEY);\n",
        then: None,
    });
    let newer = migrator(&db, &config, &with_new);
    let (_, updated) = cloudformation.deploy(&newer, "schema-update.json").await;
    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    assert_eq!(updated["Data"]["Applied"], "1000");
    assert_eq!(updated["Data"]["SchemaVersion"], "1000");
    db.db
        .execute("INSERT INTO deploy_probe (id) VALUES (1)", vec![])
        .await
        .expect("the new table exists");

    let mut with_failing = with_new.clone();
    with_failing.push(Migration {
        version: 1_001,
        name: "broken",
        sql: "ALTER TABLE no_such_table ADD COLUMN x BIGINT NULL;\n",
        then: None,
    });
    let (_, failed) = cloudformation
        .deploy(&migrator(&db, &config, &with_failing), "schema-update.json")
        .await;
    assert_eq!(failed["Status"], "FAILED", "{failed}");
    let reason = failed["Reason"].as_str().unwrap();
    assert!(
        reason.contains("migration 1001 (broken)") && reason.contains("no_such_table"),
        "{reason}"
    );
    assert!(!applied_versions(&db).await.contains(&1_001));

    // CloudFormation rolls back: the previous code's Update, which finds nothing to do.
    let (_, rolled_back) = cloudformation.deploy(&newer, "schema-update.json").await;
    assert_eq!(rolled_back["Status"], "SUCCESS", "{rolled_back}");
    assert_eq!(rolled_back["Data"]["Applied"], "");
}

#[tokio::test]
async fn an_unreadable_function_secret_fails_the_deploy_before_anything_changes() {
    let config = test_config("redis://unused");
    let db = EmptyDatabase::create(&config).await;
    let mut cloudformation = CloudFormation::start().await;
    let migrator = Migrator::new(
        data_api(db.emulator_addr, &config),
        secrets_client(db.emulator_addr),
        |name| {
            (name == "AUTH_DB_SECRET_ARN")
                .then(|| "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope".to_owned())
        },
        MIGRATIONS,
        "schema".into(),
    );
    let (_, failed) = cloudformation.deploy(&migrator, "schema-create.json").await;
    assert_eq!(failed["Status"], "FAILED", "{failed}");
    let reason = failed["Reason"].as_str().unwrap();
    assert!(reason.contains("AUTH_DB_SECRET_ARN"), "{reason}");
    db.db
        .execute("SELECT COUNT(*) FROM schema_migrations", vec![])
        .await
        .expect_err("no migration ran");
}

#[tokio::test]
async fn provisioning_that_would_outlast_the_function_answers_failed_in_time() {
    let config = test_config("redis://unused");
    let db = EmptyDatabase::create(&config).await;
    let cloudformation = CloudFormation::start().await;
    let migrator = migrator(&db, &config, MIGRATIONS);
    let response = migrator
        .handle(&cloudformation.event("schema-create.json"), Duration::ZERO)
        .await;
    let response = serde_json::to_value(&response).unwrap();
    assert_eq!(response["Status"], "FAILED");
    assert!(
        response["Reason"]
            .as_str()
            .unwrap()
            .contains("the next deploy goes on from there"),
        "{response}"
    );
}

#[tokio::test]
async fn a_database_still_resuming_is_waited_for() {
    let config = test_config("redis://unused");
    let db = EmptyDatabase::create(&config).await;
    let mut cloudformation = CloudFormation::start().await;
    // Aurora paused at 0 ACU (the low-cost profile) answers the first call while it wakes.
    db.emulator
        .fail_next(1, data_api_emulator::InjectedError::DatabaseResuming);
    let (_, created) = cloudformation
        .deploy(&migrator(&db, &config, MIGRATIONS), "schema-create.json")
        .await;
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    assert_eq!(applied_versions(&db).await, all_versions());
}
