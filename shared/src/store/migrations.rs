//! Schema migrations, applied through the Data API (the same path on Aurora and locally).
//!
//! Each migration is a SQL file of statements separated by `;` at line ends. Applied versions are
//! recorded in `schema_migrations`; every statement is idempotent (`IF NOT EXISTS`, or an
//! `ADD COLUMN` whose "duplicate column" error means it was applied already, since Aurora MySQL 8
//! has no `ADD COLUMN IF NOT EXISTS`), so a rerun or two concurrent runs converge.

use serde::Deserialize;

use super::{param, DataApi, StoreError};
use crate::time::Timestamp;

/// A migration: version, name and SQL.
pub struct Migration {
    /// Strictly increasing version.
    pub version: i64,
    /// Short name.
    pub name: &'static str,
    /// The statements.
    pub sql: &'static str,
}

/// Every migration of the schema, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "tools",
        sql: include_str!("sql/0001_tools.sql"),
    },
    Migration {
        version: 2,
        name: "sessions",
        sql: include_str!("sql/0002_sessions.sql"),
    },
    Migration {
        version: 3,
        name: "cache_outbox",
        sql: include_str!("sql/0003_cache_outbox.sql"),
    },
    Migration {
        version: 4,
        name: "login_failures",
        sql: include_str!("sql/0004_login_failures.sql"),
    },
];

/// Splits a migration into statements, dropping `--` comment lines.
pub fn statements(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(";\n")
        .map(|s| s.trim().trim_end_matches(';').trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

#[derive(Deserialize)]
struct Applied {
    version: i64,
}

/// Applies the migrations not yet recorded. Returns the versions it applied.
pub async fn migrate(db: &DataApi) -> Result<Vec<i64>, StoreError> {
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT NOT NULL PRIMARY KEY, \
         name VARCHAR(128) NOT NULL, applied_at BIGINT NOT NULL)",
        vec![],
    )
    .await?;
    let applied: Vec<Applied> = db
        .query("SELECT version FROM schema_migrations", vec![])
        .await?;
    let mut done = Vec::new();
    for migration in MIGRATIONS {
        if applied.iter().any(|a| a.version == migration.version) {
            continue;
        }
        for statement in statements(migration.sql) {
            match db.execute(&statement, vec![]).await {
                Ok(_) => {}
                Err(StoreError::Database(message)) if message.contains("Duplicate column") => {}
                Err(error) => return Err(error),
            }
        }
        db.execute(
            "INSERT IGNORE INTO schema_migrations (version, name, applied_at) \
             VALUES (:version, :name, :at)",
            vec![
                param("version", migration.version),
                param("name", migration.name),
                param("at", Timestamp::now().millis()),
            ],
        )
        .await?;
        done.push(migration.version);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_splits_into_schema_statements() {
        for migration in MIGRATIONS {
            let statements = statements(migration.sql);
            assert!(!statements.is_empty());
            for statement in &statements {
                assert!(!statement.contains(';'), "one statement each: {statement}");
                assert!(
                    statement.starts_with("CREATE TABLE IF NOT EXISTS")
                        || statement.starts_with("ALTER TABLE"),
                    "idempotent schema statement: {statement}"
                );
            }
        }
    }
}
