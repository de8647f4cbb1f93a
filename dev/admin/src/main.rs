//! `mcp-admin`: operator commands that run through the RDS Data API, locally against the emulator
//! and on AWS against Aurora (same environment variables as the functions).
//!
//! ```text
//! mcp-admin migrate   apply the schema migrations not yet applied
//! mcp-admin seed      add the demo user and the demo catalogue (idempotent)
//! ```

mod seed;

use anyhow::{bail, Context, Result};
use shared::config::Config;
use shared::store::{migrations, DataApi};

#[tokio::main]
async fn main() -> Result<()> {
    let command = std::env::args().nth(1).unwrap_or_default();
    let config = Config::from_env().context("reading the configuration")?;
    let db = || DataApi::new(config.database.clone());
    match command.as_str() {
        "migrate" => {
            let applied = migrations::migrate(&db())
                .await
                .context("applying migrations")?;
            if applied.is_empty() {
                println!("schema up to date");
            } else {
                println!("applied migrations {applied:?}");
            }
        }
        "seed" => {
            let added = seed::seed(db(), &shared::auth::PasswordHasher::new(&config.passwords))
                .await
                .context("seeding")?;
            println!(
                "seeded {added} new tools; demo user {} / {}",
                seed::DEMO_EMAIL,
                seed::DEMO_PASSWORD
            );
        }
        _ => bail!("usage: mcp-admin migrate|seed"),
    }
    Ok(())
}
