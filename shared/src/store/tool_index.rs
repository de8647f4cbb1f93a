//! The index rows of a tool, written in the transaction that writes the tool: one `tool_tags`
//! row per tag (carrying the tool's sort keys and owner), one `tool_terms` row per search term
//! ([`search::index_terms`], carrying the tool's category), and its words in the `search_terms`
//! dictionary. Statements are idempotent, so one the SDK retried is harmless.

use serde::Serialize;
use uuid::Uuid;

use super::{param, StoreError, Transaction};
use crate::domain::{search, Tool};

/// Rows per statement. Each statement carries its rows as one JSON parameter, unpacked by
/// `JSON_TABLE` (MySQL 8 and MariaDB alike): one parameter instead of one per value keeps the
/// request small and cheap to build, sign and bind (a bulk import writes about twenty rows per
/// tool). 4,000 rows stay far below the Data API's 4 MiB request limit.
const ROWS_PER_STATEMENT: usize = 4_000;

/// Writes the index rows of `tools`, which have none yet.
pub(super) async fn insert(tx: &Transaction<'_>, tools: &[&Tool]) -> Result<(), StoreError> {
    let tags: Vec<_> = tools
        .iter()
        .flat_map(|tool| {
            tool.tags.iter().map(move |tag| {
                (
                    tool.id,
                    tag,
                    &tool.name,
                    tool.created_at.millis(),
                    tool.updated_at.millis(),
                    tool.owner_id,
                )
            })
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO tool_tags (tool_id, tag, name, created_at, updated_at, owner_id) \
         SELECT r.id, r.tag, r.name, r.created, r.updated, r.owner FROM JSON_TABLE(:rows, '$[*]' \
         COLUMNS (id CHAR(36) PATH '$[0]', tag VARCHAR(32) PATH '$[1]', \
         name VARCHAR(128) PATH '$[2]', created BIGINT PATH '$[3]', updated BIGINT PATH '$[4]', \
         owner CHAR(36) PATH '$[5]')) AS r ON DUPLICATE KEY UPDATE tool_id = tool_id",
        &tags,
    )
    .await?;
    let mut words = std::collections::BTreeSet::new();
    let mut terms = Vec::new();
    for tool in tools {
        for (term, weight) in search::index_terms(tool) {
            if !term.starts_with('=') {
                words.insert(term.clone());
            }
            terms.push((tool.id, term, weight, &tool.category));
        }
    }
    insert_rows(
        tx,
        "INSERT INTO tool_terms (tool_id, term, weight, category) \
         SELECT r.id, r.term, r.weight, r.category FROM JSON_TABLE(:rows, '$[*]' \
         COLUMNS (id CHAR(36) PATH '$[0]', term VARCHAR(130) PATH '$[1]', \
         weight SMALLINT PATH '$[2]', category VARCHAR(64) PATH '$[3]')) AS r \
         ON DUPLICATE KEY UPDATE tool_id = tool_id",
        &terms,
    )
    .await?;
    // IGNORE: a term already there takes a shared lock only, so writers sharing common terms do
    // not queue behind each other (an update would lock them exclusively until commit).
    let words: Vec<String> = words.into_iter().collect();
    insert_rows(
        tx,
        "INSERT IGNORE INTO search_terms (term) SELECT r.term FROM JSON_TABLE(:rows, '$[*]' \
         COLUMNS (term VARCHAR(130) PATH '$')) AS r",
        &words,
    )
    .await
}

/// Replaces the index rows of `tool` with those of its new version.
pub(super) async fn replace(tx: &Transaction<'_>, tool: &Tool) -> Result<(), StoreError> {
    delete(tx, tool.id).await?;
    insert(tx, &[tool]).await
}

/// Deletes the index rows of the tool `id`.
pub(super) async fn delete(tx: &Transaction<'_>, id: Uuid) -> Result<(), StoreError> {
    for table in ["tool_tags", "tool_terms"] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE tool_id = :id"),
            vec![param("id", id)],
        )
        .await?;
    }
    Ok(())
}

/// Runs `statement` (an `INSERT … SELECT … FROM JSON_TABLE(:rows, …)`) for `rows`, each
/// serialised as a JSON array, [`ROWS_PER_STATEMENT`] at a time.
async fn insert_rows<Row: Serialize>(
    tx: &Transaction<'_>,
    statement: &str,
    rows: &[Row],
) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let rows =
            serde_json::to_string(chunk).expect("rows of ids, strings and numbers serialise");
        tx.execute(statement, vec![param("rows", rows)]).await?;
    }
    Ok(())
}
