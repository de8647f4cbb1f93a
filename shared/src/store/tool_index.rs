//! The index rows of a tool, written in the transaction that writes the tool: one `tool_tags`
//! row per tag (carrying the tool's sort keys and owner), one `tool_terms` row per search term
//! ([`search::index_terms`], carrying the tool's category), and its words in the `search_terms` dictionary. Statements are
//! idempotent, so one the SDK retried is harmless.

use aws_sdk_rdsdata::types::SqlParameter;
use uuid::Uuid;

use super::{param, StoreError, Transaction, Value};
use crate::domain::{search, Tool};

/// Rows per multi-row `INSERT`: few statements per batch, each far below the Data API's
/// request size limit.
const ROWS_PER_STATEMENT: usize = 400;

/// Writes the index rows of `tools`, which have none yet.
pub(super) async fn insert(tx: &Transaction<'_>, tools: &[&Tool]) -> Result<(), StoreError> {
    let tags: Vec<[Value; 6]> = tools
        .iter()
        .flat_map(|tool| {
            tool.tags.iter().map(move |tag| {
                [
                    tool.id.into(),
                    tag.as_str().into(),
                    tool.name.as_str().into(),
                    tool.created_at.millis().into(),
                    tool.updated_at.millis().into(),
                    tool.owner_id.into(),
                ]
            })
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO tool_tags (tool_id, tag, name, created_at, updated_at, owner_id) VALUES ",
        " ON DUPLICATE KEY UPDATE tool_id = tool_id",
        tags,
    )
    .await?;
    let terms: Vec<[Value; 4]> = tools
        .iter()
        .flat_map(|tool| {
            search::index_terms(tool)
                .into_iter()
                .map(move |(term, weight)| {
                    [
                        tool.id.into(),
                        term.into(),
                        weight.into(),
                        tool.category.as_str().into(),
                    ]
                })
        })
        .collect();
    let words: std::collections::BTreeSet<String> = terms
        .iter()
        .filter_map(|[_, term, ..]| match term {
            Value::Text(term) if !term.starts_with('=') => Some(term.clone()),
            _ => None,
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO tool_terms (tool_id, term, weight, category) VALUES ",
        " ON DUPLICATE KEY UPDATE tool_id = tool_id",
        terms,
    )
    .await?;
    // IGNORE: a term already there takes a shared lock only, so writers sharing common terms do
    // not queue behind each other (an update would lock them exclusively until commit).
    insert_rows(
        tx,
        "INSERT IGNORE INTO search_terms (term) VALUES ",
        "",
        words.into_iter().map(|term| [Value::Text(term)]).collect(),
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

/// Inserts `rows` with `head` (`INSERT … VALUES `) and `tail`, [`ROWS_PER_STATEMENT`] at a time.
async fn insert_rows<const N: usize>(
    tx: &Transaction<'_>,
    head: &str,
    tail: &str,
    rows: Vec<[Value; N]>,
) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from(head);
        let mut params: Vec<SqlParameter> = Vec::with_capacity(chunk.len() * N);
        for (r, row) in chunk.iter().enumerate() {
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for (c, value) in row.iter().enumerate() {
                let name = format!("v{r}_{c}");
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push(':');
                sql.push_str(&name);
                params.push(param(&name, value.clone()));
            }
            sql.push(')');
        }
        sql.push_str(tail);
        tx.execute(&sql, params).await?;
    }
    Ok(())
}
