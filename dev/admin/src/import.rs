//! `mcp-admin import --owner EMAIL FILE`: tools from JSON lines (each line a `POST /tools` body),
//! validated as a create validates them and written in batches through the store, with their
//! search and tag index rows; list pages are retired once, at the end.

use std::io::BufRead;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_json::Value;
use shared::cache::CacheService;
use shared::config::Config;
use shared::domain::{normalize_email, Timestamp, Tool, ToolChanges};
use shared::store::{param, DataApi, DataApiToolStore};
use tokio::task::JoinSet;
use uuid::Uuid;

/// Tools per transaction.
const BATCH: usize = 1_000;
/// Transactions in flight at once: each mostly waits on round trips, so a few overlap well.
const IN_FLIGHT: usize = 4;

/// What an import did.
#[derive(Debug, Default)]
pub struct Imported {
    /// Tools written.
    pub added: usize,
    /// Valid lines whose name was present already (in the catalogue or earlier in the file).
    pub present: usize,
    /// Lines refused, reported on standard error with their line numbers.
    pub invalid: usize,
}

/// Imports the tools of `path` (`-`: standard input) for the user with `email`.
pub async fn import(config: &Config, email: &str, path: &str) -> Result<Imported> {
    let db = DataApi::new(config.database.clone());
    let owner = owner_id(&db, email).await?;
    let store = Arc::new(DataApiToolStore::new(db));
    let mut writing = JoinSet::new();
    let reader: Box<dyn BufRead> = if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("opening {path}"))?,
        ))
    };
    let started = Instant::now();
    let mut imported = Imported::default();
    let mut batch: Vec<Tool> = Vec::with_capacity(BATCH);
    let mut names = std::collections::HashSet::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading line {}", n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(&line, owner) {
            Ok(tool) if !names.insert(tool.name.clone()) => imported.present += 1,
            Ok(tool) => batch.push(tool),
            Err(reason) => {
                imported.invalid += 1;
                eprintln!("line {}: {reason}; skipped", n + 1);
            }
        }
        if batch.len() == BATCH {
            if writing.len() == IN_FLIGHT {
                settle(writing.join_next().await, &mut imported)?;
                progress(&imported, started);
            }
            let (store, tools) = (store.clone(), std::mem::take(&mut batch));
            writing.spawn(async move { write(&store, tools).await });
        }
    }
    writing.spawn(async move { write(&store, batch).await });
    while let Some(done) = writing.join_next().await {
        settle(Some(done), &mut imported)?;
    }
    if imported.added > 0 {
        // The batches' outbox rows retire the pages too, through the sweeper, should Redis not
        // take this.
        if let Err(error) = CacheService::new(&config.cache)
            .retire_lists(None, &[])
            .await
        {
            eprintln!("list pages not retired now ({error}); the cache sweeper will");
        }
    }
    Ok(imported)
}

/// A tool from one line, as `POST /tools` would create it.
fn parse_line(line: &str, owner: Uuid) -> Result<Tool, String> {
    let body: Value = serde_json::from_str(line).map_err(|e| format!("not JSON ({e})"))?;
    let changes = ToolChanges::for_create(&body).map_err(|errors| {
        errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    Ok(changes.into_new_tool(Uuid::now_v7(), owner, Timestamp::now()))
}

/// Writes one batch; returns how many tools it added and how many names it found present.
async fn write(store: &DataApiToolStore, batch: Vec<Tool>) -> Result<(usize, usize)> {
    if batch.is_empty() {
        return Ok((0, 0));
    }
    let present = store
        .insert_many(&batch, Uuid::now_v7())
        .await
        .context("writing a batch")?;
    Ok((batch.len() - present.len(), present.len()))
}

/// Adds a finished batch to the totals; its failure ends the import.
fn settle(
    done: Option<Result<Result<(usize, usize)>, tokio::task::JoinError>>,
    imported: &mut Imported,
) -> Result<()> {
    if let Some(done) = done {
        let (added, present) = done.context("a batch task")??;
        imported.added += added;
        imported.present += present;
    }
    Ok(())
}

fn progress(imported: &Imported, started: Instant) {
    let done = imported.added + imported.present;
    if done.is_multiple_of(BATCH * 50) {
        let rate = imported.added as f64 / started.elapsed().as_secs_f64().max(1e-3);
        eprintln!("{done} tools read, {} added ({rate:.0}/s)", imported.added);
    }
}

/// The id of the account with `email`.
async fn owner_id(db: &DataApi, email: &str) -> Result<Uuid> {
    #[derive(Deserialize)]
    struct User {
        id: String,
    }
    let users: Vec<User> = db
        .query(
            "SELECT id FROM users WHERE email_normalized = :email",
            vec![param("email", normalize_email(email))],
        )
        .await
        .context("looking up the owner")?;
    match users.first() {
        Some(user) => Uuid::try_parse(&user.id).context("the owner's id"),
        None => bail!("no account with the email {email}; register it first"),
    }
}
