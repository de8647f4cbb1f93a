//! Schema migrations, applied through the Data API (the same path on Aurora and locally).
//!
//! Each migration is a SQL file of statements separated by `;` at line ends. Applied versions are
//! recorded in `schema_migrations`; every statement is idempotent (`IF NOT EXISTS`, or an
//! `ADD COLUMN` whose "duplicate column" error means it was applied already, since Aurora MySQL 8
//! has no `ADD COLUMN IF NOT EXISTS`), so a rerun or two concurrent runs converge.

use serde::Deserialize;

use super::{param, DataApi, StoreError};
use crate::config::{Function, Secret};
use crate::domain::Timestamp;

/// A migration: version, name, SQL and what runs after it.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    /// Strictly increasing version.
    pub version: i64,
    /// Short name.
    pub name: &'static str,
    /// The statements.
    pub sql: &'static str,
    /// Data to bring into the new structures once the statements ran (idempotent).
    pub then: Option<DataStep>,
}

/// A migration step on data rather than schema. Steps run today's code, which writes today's
/// schema, so they run after every pending migration's statements, each step once, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DataStep {
    /// Writes the search and tag index rows of every stored tool.
    IndexTools,
    /// Copies each tool's category into its search index rows and its owner into its tag rows.
    CopyFilterColumns,
}

/// Every migration of the schema, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "tools",
        sql: include_str!("sql/0001_tools.sql"),
        then: None,
    },
    Migration {
        version: 2,
        name: "sessions",
        sql: include_str!("sql/0002_sessions.sql"),
        then: None,
    },
    Migration {
        version: 3,
        name: "cache_outbox",
        sql: include_str!("sql/0003_cache_outbox.sql"),
        then: None,
    },
    Migration {
        version: 4,
        name: "login_failures",
        sql: include_str!("sql/0004_login_failures.sql"),
        then: None,
    },
    Migration {
        version: 5,
        name: "tool_mcp_fields",
        sql: include_str!("sql/0005_tool_mcp_fields.sql"),
        then: None,
    },
    Migration {
        version: 6,
        name: "search",
        sql: include_str!("sql/0006_search.sql"),
        then: Some(DataStep::IndexTools),
    },
    Migration {
        version: 7,
        name: "filter_columns",
        sql: include_str!("sql/0007_filter_columns.sql"),
        then: Some(DataStep::CopyFilterColumns),
    },
    Migration {
        version: 8,
        name: "term_postings",
        sql: include_str!("sql/0008_term_postings.sql"),
        then: None,
    },
    Migration {
        version: 9,
        name: "outbox_scopes",
        sql: include_str!("sql/0009_outbox_scopes.sql"),
        then: None,
    },
    Migration {
        version: 10,
        name: "session_ends",
        sql: include_str!("sql/0010_session_ends.sql"),
        then: None,
    },
    Migration {
        version: 11,
        name: "signing_keys",
        sql: include_str!("sql/0011_signing_keys.sql"),
        then: None,
    },
    Migration {
        version: 12,
        name: "idempotency_keys",
        sql: include_str!("sql/0012_idempotency_keys.sql"),
        then: None,
    },
    Migration {
        version: 13,
        name: "tool_tombstones",
        sql: include_str!("sql/0013_tool_tombstones.sql"),
        then: None,
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

/// Why a migration run stopped. What ran before stays applied and every statement is
/// idempotent, so running it again goes on from there.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// A statement of a migration failed.
    #[error("migration {version} ({name}) failed: {source}")]
    Statement {
        /// The migration's version.
        version: i64,
        /// Its name.
        name: &'static str,
        /// The database's answer.
        source: StoreError,
    },
    /// A data step failed.
    #[error("data step {step:?} failed: {source}")]
    DataStep {
        /// The step.
        step: DataStep,
        /// The database's answer.
        source: StoreError,
    },
    /// Reading or writing `schema_migrations` failed.
    #[error("recording the applied migrations failed: {0}")]
    Bookkeeping(#[source] StoreError),
}

/// Applies those of `migrations` (in production [`MIGRATIONS`]) not yet recorded. Returns the
/// versions it applied.
pub async fn migrate(db: &DataApi, migrations: &[Migration]) -> Result<Vec<i64>, MigrationError> {
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT NOT NULL PRIMARY KEY, \
         name VARCHAR(128) NOT NULL, applied_at BIGINT NOT NULL)",
        vec![],
    )
    .await
    .map_err(MigrationError::Bookkeeping)?;
    let applied: Vec<Applied> = db
        .query("SELECT version FROM schema_migrations", vec![])
        .await
        .map_err(MigrationError::Bookkeeping)?;
    let pending: Vec<&Migration> = migrations
        .iter()
        .filter(|m| !applied.iter().any(|a| a.version == m.version))
        .collect();
    for migration in &pending {
        for statement in statements(migration.sql) {
            // A statement that ran before (Aurora MySQL 8 has no `ADD COLUMN IF NOT EXISTS`,
            // `ADD INDEX IF NOT EXISTS` nor `DROP INDEX IF EXISTS`) fails with "already exists"
            // (or, for a drop, "check that it exists"): done, then.
            match db.execute(&statement, vec![]).await {
                Ok(_) | Err(StoreError::AlreadyExists(_)) => {}
                Err(source) => {
                    return Err(MigrationError::Statement {
                        version: migration.version,
                        name: migration.name,
                        source,
                    })
                }
            }
        }
    }
    let steps: std::collections::BTreeSet<DataStep> =
        pending.iter().filter_map(|m| m.then).collect();
    for step in steps {
        let failed = |source| MigrationError::DataStep { step, source };
        match step {
            DataStep::IndexTools => {
                let indexed = super::tools::index_all_tools(db).await.map_err(failed)?;
                tracing::info!(indexed, "search and tag index rows written");
            }
            DataStep::CopyFilterColumns => {
                let changed = super::tools::copy_filter_columns(db)
                    .await
                    .map_err(failed)?;
                tracing::info!(changed, "categories and owners copied into index rows");
            }
        }
    }
    let mut done = Vec::new();
    for migration in pending {
        db.execute(
            "INSERT IGNORE INTO schema_migrations (version, name, applied_at) \
             VALUES (:version, :name, :at)",
            vec![
                param("version", migration.version),
                param("name", migration.name),
                param("at", Timestamp::now().millis()),
            ],
        )
        .await
        .map_err(MigrationError::Bookkeeping)?;
        done.push(migration.version);
    }
    Ok(done)
}

/// The database user `function` connects as (through its own Data API secret).
pub fn database_user(function: Function) -> &'static str {
    match function {
        Function::ToolsRead => "registry_tools_read",
        Function::ToolsWrite => "registry_tools_write",
        Function::Auth => "registry_auth",
        Function::CacheSweeper => "registry_cache_sweeper",
        Function::Admin => "registry_admin",
    }
}

/// What each function's user may do, table by table, and nothing more. tools-read only reads
/// the catalogue; no function but auth sees a password hash.
fn grants(function: Function) -> &'static [&'static str] {
    match function {
        Function::ToolsRead => &[
            "SELECT ON tools",
            "SELECT ON tool_tags",
            "SELECT ON tool_terms",
            "SELECT ON search_terms",
            "SELECT ON tool_tombstones",
        ],
        Function::ToolsWrite => &[
            "SELECT, INSERT, UPDATE, DELETE ON tools",
            "SELECT, INSERT, UPDATE, DELETE ON tool_tags",
            "SELECT, INSERT, UPDATE, DELETE ON tool_terms",
            "SELECT, INSERT ON search_terms",
            "SELECT, INSERT, UPDATE ON cache_outbox",
            "SELECT ON sessions",
            "SELECT (id, role) ON users",
            "SELECT ON signing_keys",
            "SELECT, INSERT, UPDATE ON idempotency_keys",
            // UPDATE: a tombstone statement the SDK retried updates nothing (ON DUPLICATE KEY).
            "SELECT, INSERT, UPDATE ON tool_tombstones",
        ],
        Function::Auth => &[
            "SELECT, INSERT ON users",
            // A login rehashes a password stored at other costs than the configured ones.
            "UPDATE (password_hash) ON users",
            // DELETE: sessions that ended a retention ago go, with their refresh tokens.
            "SELECT, INSERT, UPDATE, DELETE ON sessions",
            "SELECT, INSERT, UPDATE, DELETE ON refresh_tokens",
            "SELECT, INSERT, UPDATE, DELETE ON login_failures",
            // Its signing key's public half, published before its first token.
            "SELECT, INSERT ON signing_keys",
        ],
        Function::CacheSweeper => &[
            "SELECT ON tools",
            "SELECT, UPDATE, DELETE ON cache_outbox",
            // Keys and tombstones past their retention go.
            "SELECT, DELETE ON idempotency_keys",
            "SELECT, DELETE ON tool_tombstones",
        ],
        Function::Admin => &[],
    }
}

/// A quoted SQL string literal (the statements that set passwords take no parameters).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Creates the database user of each function in `users` (or sets its password to the one given,
/// which is how a rotated secret takes effect) and grants it its rights on this database. Run
/// after [`migrate`], as an administrator; idempotent.
pub async fn grant_function_users(
    db: &DataApi,
    users: &[(Function, Secret)],
) -> Result<(), StoreError> {
    for (function, password) in users {
        let password = std::str::from_utf8(password.expose())
            .map_err(|_| StoreError::Database("a database password must be UTF-8".into()))?;
        let user = format!("{}@'%'", literal(database_user(*function)));
        let password = literal(password);
        db.execute(
            &format!("CREATE USER IF NOT EXISTS {user} IDENTIFIED BY {password}"),
            vec![],
        )
        .await?;
        db.execute(
            &format!("ALTER USER {user} IDENTIFIED BY {password}"),
            vec![],
        )
        .await?;
        for grant in grants(*function) {
            db.execute(&format!("GRANT {grant} TO {user}"), vec![])
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_quoted_as_sql_literals() {
        assert_eq!(literal("plain"), "'plain'");
        assert_eq!(literal(r"it's \ here"), r"'it\'s \\ here'");
    }

    #[test]
    fn each_lambda_has_a_user_with_rights_and_only_auth_reads_password_hashes() {
        for function in Function::LAMBDAS {
            assert!(!grants(function).is_empty(), "{function:?}");
            let sees_users = grants(function)
                .iter()
                .any(|g| g.ends_with("ON users") && !g.contains("(id, role)"));
            assert_eq!(sees_users, function == Function::Auth, "{function:?}");
        }
        assert!(grants(Function::ToolsRead)
            .iter()
            .all(|g| g.starts_with("SELECT ON") || g.contains("UPDATE (applied_at)")));
    }

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
