//! `mcp-admin`: operator commands that run through the RDS Data API, locally against the emulator
//! and on AWS against Aurora (same environment variables as the functions).
//!
//! ```text
//! mcp-admin migrate   apply the schema migrations not yet applied, then create each function's
//!                     database user (or set its password) and grant it its rights
//! mcp-admin seed      add the demo user and the demo catalogue (idempotent)
//! mcp-admin import --owner EMAIL FILE
//!                     add the tools of FILE (JSON lines, each a `POST /tools` body; `-` reads
//!                     standard input) owned by EMAIL's account, in batches; invalid lines are
//!                     reported with their numbers and skipped, names already present skipped
//! ```
//!
//! `migrate` is what every deploy runs (the schema-migrator function): it reads each function's
//! database credentials from its Secrets Manager secret (`TOOLS_READ_DB_SECRET_ARN`,
//! `TOOLS_WRITE_DB_SECRET_ARN`, `AUTH_DB_SECRET_ARN`, `CACHE_SWEEPER_DB_SECRET_ARN`; locally the
//! emulator serves `dev/secrets.json` and these default to its ARNs). It runs itself as
//! `DB_SECRET_ARN`, the administrator.

mod import;
mod seed;

use anyhow::{bail, Context, Result};
use shared::config::{Config, Function};
use shared::store::provision::provision;
use shared::store::{migrations, DataApi};

#[tokio::main]
async fn main() -> Result<()> {
    let command = std::env::args().nth(1).unwrap_or_default();
    let config = Config::from_env(Function::Admin).context("reading the configuration")?;
    let db = || DataApi::new(config.database.clone());
    match command.as_str() {
        "migrate" => {
            let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .load()
                .await;
            let provisioned = provision(
                &db(),
                &aws_sdk_secretsmanager::Client::new(&sdk),
                |name| std::env::var(name).ok(),
                migrations::MIGRATIONS,
            )
            .await?;
            if provisioned.applied.is_empty() {
                println!("schema up to date (version {})", provisioned.schema_version);
            } else {
                println!("applied migrations {:?}", provisioned.applied);
            }
            println!("function users and grants up to date");
        }
        "seed" => {
            let added = seed::seed(
                db(),
                &shared::services::auth::PasswordHasher::new(&config.passwords).map_err(|e| {
                    anyhow::anyhow!("ARGON2_MEMORY_KIB / ARGON2_ITERATIONS refused: {e}")
                })?,
            )
            .await
            .context("seeding")?;
            println!(
                "seeded {added} new tools; demo user {} / {}",
                seed::DEMO_EMAIL,
                seed::DEMO_PASSWORD
            );
        }
        "import" => {
            let args: Vec<String> = std::env::args().skip(2).collect();
            let (email, path) = match args.as_slice() {
                [flag, email, path] if flag == "--owner" => (email, path),
                _ => bail!("usage: mcp-admin import --owner EMAIL FILE"),
            };
            let started = std::time::Instant::now();
            let imported = import::import(&config, email, path).await?;
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "imported {} tools in {seconds:.1} s ({:.0}/s); {} already present, {} invalid lines",
                imported.added,
                imported.added as f64 / seconds.max(1e-3),
                imported.present,
                imported.invalid
            );
        }
        _ => bail!("usage: mcp-admin migrate|seed|import --owner EMAIL FILE"),
    }
    Ok(())
}
