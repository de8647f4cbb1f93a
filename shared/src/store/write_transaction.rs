//! How every write transaction runs: begin, run the statements, then commit or roll back as
//! they decided. A commit whose answer was lost is recognised by a row only that
//! transaction wrote ([`CommitEvidence`]), so the caller hears the outcome that happened; a
//! transaction the database ended (a deadlock, a lock wait, the Data API's own timeout) runs
//! again, a few times.

use std::future::Future;
use std::time::Duration;

use super::{DataApi, StoreError, Transaction};

/// Attempts of one write transaction before the request gives up (a 503).
const ATTEMPTS: usize = 3;

/// How long a rollback may take before it is left to the Data API, which ends an idle
/// transaction by itself.
pub(super) const ROLLBACK_LIMIT: Duration = Duration::from_secs(1);

/// What a transaction's statements decided.
pub enum Outcome<T> {
    /// Commit, then answer this.
    Commit(T),
    /// Nothing to write (the write is moot, or made by an earlier attempt): roll back and
    /// answer this.
    RollBack(T),
}

/// A row only the committed transaction wrote, looked for outside it when the commit's answer
/// was lost.
pub trait CommitEvidence: Sync {
    /// Whether the row is there: the transaction committed.
    fn is_committed(&self, db: &DataApi) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// The attempts of one write transaction: [`begin`](Self::begin) one, run the statements in it,
/// hand their decision to [`end`](Self::end); an attempt the database ended begins again.
///
/// ```ignore
/// let mut attempts = db.write_attempts(&evidence);
/// loop {
///     let tx = attempts.begin().await?;
///     let decided = statements(&tx).await; // Result<Outcome<T>, StoreError>
///     if let Some(answer) = attempts.end(tx, decided).await? {
///         return Ok(answer);
///     }
/// }
/// ```
pub struct WriteAttempts<'a, E> {
    db: &'a DataApi,
    evidence: &'a E,
    left: usize,
}

impl DataApi {
    /// The attempts of a write transaction whose commit `evidence` recognises.
    pub fn write_attempts<'a, E: CommitEvidence>(
        &'a self,
        evidence: &'a E,
    ) -> WriteAttempts<'a, E> {
        WriteAttempts {
            db: self,
            evidence,
            left: ATTEMPTS,
        }
    }
}

impl<'a, E: CommitEvidence> WriteAttempts<'a, E> {
    /// Begins the next attempt; after [`ATTEMPTS`] of them, a 503's error.
    pub async fn begin(&mut self) -> Result<Transaction<'a>, StoreError> {
        if self.left == 0 {
            return Err(StoreError::Unavailable(
                "the transaction kept ending before its commit".into(),
            ));
        }
        self.left -= 1;
        self.db.begin().await
    }

    /// Ends the attempt `tx` as its statements `decided`: the answer once committed (or found
    /// committed) or rolled back on purpose, `None` when it must run again, or the error.
    pub async fn end<T>(
        &self,
        tx: Transaction<'a>,
        decided: Result<Outcome<T>, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        match decided {
            Ok(Outcome::Commit(answer)) => Ok(self.commit(tx).await?.then_some(answer)),
            Ok(Outcome::RollBack(answer)) => {
                tx.rollback(ROLLBACK_LIMIT).await;
                Ok(Some(answer))
            }
            Err(error) => {
                tx.rollback(ROLLBACK_LIMIT).await;
                if error.must_rerun() {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    /// Commits `tx`: `Ok(true)` once it is committed, also when the commit's answer was lost
    /// and the evidence is found; `Ok(false)` when the transaction ended without committing (run
    /// it again). One whose outcome stays unknown is rolled back, so it does not hold its locks
    /// until the Data API's idle timeout.
    async fn commit(&self, tx: Transaction<'a>) -> Result<bool, StoreError> {
        let Err(error) = tx.commit().await else {
            return Ok(true);
        };
        match self.evidence.is_committed(self.db).await {
            Ok(true) => {
                tracing::info!(%error, "commit answer lost; the transaction had committed");
                tx.conclude();
                Ok(true)
            }
            Ok(false) if error.must_rerun() => {
                tx.conclude();
                Ok(false)
            }
            _ => {
                tx.rollback(ROLLBACK_LIMIT).await;
                Err(error)
            }
        }
    }
}
