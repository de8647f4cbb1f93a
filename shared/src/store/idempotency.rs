//! Idempotency keys in the database: claimed inside the write's own transaction (so a key is
//! recorded exactly when its write commits, with the tool it answered), and looked up before a
//! keyed write runs.

use std::time::Duration;

use serde::Deserialize;
use uuid::Uuid;

use super::{param, DataApi, StoreError, Transaction};
use crate::domain::IdempotentRequest;

const DB_NOW_MS: &str = "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)";

/// What a keyed write records with its key.
#[derive(Clone, Copy, Debug)]
pub struct KeyClaim<'a> {
    /// The key, its caller and its request's fingerprint.
    pub request: &'a IdempotentRequest,
    /// The tool the write answers with (JSON), `None` for a delete.
    pub answer: Option<&'a str>,
    /// How long a key is kept.
    pub retention: Duration,
}

/// A key's first write, as a repeat of it finds it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct KeyedWrite {
    /// The fingerprint of the request that made it.
    pub fingerprint: String,
    /// The tool it answered with (JSON), `None` for a delete.
    pub answer: Option<String>,
}

/// The committed write of `caller`'s `key`, unless older than `retention`.
pub(super) async fn keyed_write(
    db: &DataApi,
    caller: Uuid,
    key: &str,
    retention: Duration,
) -> Result<Option<KeyedWrite>, StoreError> {
    let rows: Vec<KeyedWrite> = db
        .query(
            &format!(
                "SELECT fingerprint, answer FROM idempotency_keys \
                 WHERE caller_id = :caller AND idem_key = :key AND created_at > {DB_NOW_MS} - :retention"
            ),
            vec![
                param("caller", caller),
                param("key", key),
                param("retention", retention.as_millis() as i64),
            ],
        )
        .await?;
    Ok(rows.into_iter().next())
}

/// Claims `claim`'s key for write `write`, first in its transaction: [`StoreError::KeyInUse`] if
/// another request holds it (its transaction still open, or committed since this request looked).
pub(super) async fn claim(
    tx: &Transaction<'_>,
    claim: &KeyClaim<'_>,
    write: Uuid,
) -> Result<(), StoreError> {
    let key = [
        param("caller", claim.request.caller),
        param("key", claim.request.key.as_str()),
    ];
    let retention = param("retention", claim.retention.as_millis() as i64);
    // NOWAIT: a key another transaction holds is a 409 at once, not a wait for its lock.
    let held: Vec<serde_json::Value> = tx
        .query(
            &format!(
                "SELECT write_id FROM idempotency_keys WHERE caller_id = :caller \
                 AND idem_key = :key AND created_at > {DB_NOW_MS} - :retention FOR UPDATE NOWAIT"
            ),
            [key.to_vec(), vec![retention]].concat(),
        )
        .await
        .map_err(|error| match error {
            StoreError::LockConflict(_) => StoreError::KeyInUse,
            other => other,
        })?;
    if !held.is_empty() {
        return Err(StoreError::KeyInUse);
    }
    // An expired key's row is taken over; a statement the SDK retried writes the same again.
    tx.execute(
        &format!(
            "INSERT INTO idempotency_keys (caller_id, idem_key, fingerprint, write_id, answer, created_at) \
             VALUES (:caller, :key, :fingerprint, :write, :answer, {DB_NOW_MS}) \
             ON DUPLICATE KEY UPDATE fingerprint = :fingerprint, write_id = :write, \
             answer = :answer, created_at = {DB_NOW_MS}"
        ),
        [
            key.to_vec(),
            vec![
                param("fingerprint", claim.request.fingerprint.as_str()),
                param("write", write),
                param("answer", claim.answer),
            ],
        ]
        .concat(),
    )
    .await
    .map(drop)
}

/// Deletes up to 1,000 keys older than `retention`; returns how many.
pub(super) async fn prune(db: &DataApi, retention: Duration) -> Result<i64, StoreError> {
    db.execute(
        &format!(
            "DELETE FROM idempotency_keys WHERE created_at < {DB_NOW_MS} - :retention LIMIT 1000"
        ),
        vec![param("retention", retention.as_millis() as i64)],
    )
    .await
}
