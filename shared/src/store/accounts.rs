//! Users, sessions and refresh tokens on the Data API: the source of truth for authentication.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::write_transaction::{CommitEvidence, Outcome};
use super::{param, DataApi, StoreError, Transaction};
use crate::domain::{normalize_email, Role, Timestamp};

/// A stored user.
#[derive(Clone, Debug)]
pub struct UserRecord {
    /// Id.
    pub id: Uuid,
    /// Email as registered.
    pub email: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Role.
    pub role: Role,
    /// Registration time.
    pub created_at: Timestamp,
}

/// The public half of an access-token signing key, as published for the verifiers.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishedKey {
    /// The `kid` of the tokens it signs: base64url of the first 12 bytes of the key's SHA-256.
    pub kid: String,
    /// The raw Ed25519 public key, base64url (a JWK's `x`).
    pub public_key: String,
}

/// A session, as stored in the database and cached in Redis (camelCase JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    /// Session id.
    pub session_id: Uuid,
    /// Its user.
    pub user_id: Uuid,
    /// The user's role.
    pub role: Role,
    /// Creation time.
    pub created_at: Timestamp,
    /// When it ends unless refreshed.
    pub expires_at: Timestamp,
    /// Last refresh (creation time until the first).
    pub last_refreshed_at: Timestamp,
    /// The client's `User-Agent` at login.
    pub user_agent: Option<String>,
    /// The client's address at login.
    pub source_ip: Option<String>,
}

const SESSION_COLUMNS: &str = "s.id, s.user_id AS userId, u.role, s.created_at AS createdAt, \
    s.expires_at AS expiresAt, s.last_refreshed_at AS lastRefreshedAt, \
    s.user_agent AS userAgent, s.source_ip AS sourceIp";

/// The outcome of presenting a refresh token for rotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// This call rotated it: its successor is stored and the session slid.
    Rotated {
        /// The session, as slid.
        session: SessionRecord,
    },
    /// It had already been rotated: a reuse (or a lost race).
    Reused {
        /// The session it belonged to.
        session_id: Uuid,
        /// How long ago it was rotated, by the store's own clock (the database's, which also
        /// timed the rotation).
        since: Duration,
    },
    /// Unknown or expired.
    Invalid,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserRow {
    id: String,
    email: String,
    display_name: Option<String>,
    password_hash: String,
    role: String,
    created_at: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionRow {
    id: String,
    user_id: String,
    role: String,
    created_at: i64,
    expires_at: i64,
    last_refreshed_at: i64,
    user_agent: Option<String>,
    source_ip: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenRow {
    session_id: String,
    rotated_at: Option<i64>,
    expires_at: i64,
    /// The database's clock when it was read.
    db_now: i64,
}

/// The database's clock in epoch milliseconds, as a select-list expression.
const DB_NOW: &str = "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)";

impl SessionRow {
    fn into_record(self) -> Result<SessionRecord, StoreError> {
        Ok(SessionRecord {
            session_id: uuid(&self.id)?,
            user_id: uuid(&self.user_id)?,
            role: role(&self.role)?,
            created_at: Timestamp::from_millis(self.created_at),
            expires_at: Timestamp::from_millis(self.expires_at),
            last_refreshed_at: Timestamp::from_millis(self.last_refreshed_at),
            user_agent: self.user_agent,
            source_ip: self.source_ip,
        })
    }
}

fn uuid(text: &str) -> Result<Uuid, StoreError> {
    Uuid::try_parse(text).map_err(|_| StoreError::Corrupt(format!("bad id {text:?}")))
}

fn role(text: &str) -> Result<Role, StoreError> {
    Role::parse(text).ok_or_else(|| StoreError::Corrupt(format!("unknown role {text:?}")))
}

/// Where accounts live: users, sessions, refresh tokens and the database's count of failed
/// logins. The source of truth for authentication; Redis only holds copies.
pub trait AccountStore: Send + Sync + 'static {
    /// Inserts a user; [`StoreError::Duplicate`] if the (normalized) email is taken by another
    /// user (not if the duplicate is this very insert, retried after its answer was lost).
    fn insert_user(&self, user: &UserRecord)
        -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The user registered with `email` (case-insensitively).
    fn user_by_email(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Option<UserRecord>, StoreError>> + Send;
    /// Replaces user `id`'s password hash `old` by `new` (the same password hashed at the
    /// configured costs); `false` if the stored hash is no longer `old` (changed meanwhile).
    fn replace_password_hash(
        &self,
        id: Uuid,
        old: &str,
        new: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Stores a new session and its first refresh token (by hash), in one transaction.
    fn insert_session(
        &self,
        session: &SessionRecord,
        token_hash: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The live (not revoked, not expired at `now`) session `id`.
    fn live_session(
        &self,
        id: Uuid,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<SessionRecord>, StoreError>> + Send;
    /// The live session whose current (not rotated, not expired) refresh token has the hash
    /// `token_hash`.
    fn session_of_current_token(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<SessionRecord>, StoreError>> + Send;
    /// Rotates the refresh token `token_hash` in one transaction: marks it rotated, slides its
    /// session to `expires_at` and stores `successor_hash` as the session's new refresh token. Of
    /// concurrent calls exactly one gets [`Rotation::Rotated`]; a call whose commit answer was
    /// lost still gets it.
    fn rotate_refresh_token(
        &self,
        token_hash: &str,
        successor_hash: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> impl Future<Output = Result<Rotation, StoreError>> + Send;
    /// The live sessions of `user_id` at `now`, newest first (at most 100).
    fn live_sessions_of(
        &self,
        user_id: Uuid,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<SessionRecord>, StoreError>> + Send;
    /// Revokes every live session of `user_id`; returns their ids.
    fn revoke_sessions_of(
        &self,
        user_id: Uuid,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<Uuid>, StoreError>> + Send;
    /// Deletes up to 100 sessions that expired or were revoked before `before`, with their
    /// refresh tokens; returns how many sessions.
    fn prune_sessions(
        &self,
        before: Timestamp,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// Revokes a session and every refresh token of it.
    fn revoke_session(
        &self,
        id: Uuid,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The failure windows of `subjects` that started after `since` (older ones are over).
    fn login_failures(
        &self,
        subjects: &[&str],
        since: Timestamp,
    ) -> impl Future<Output = Result<Vec<FailureWindow>, StoreError>> + Send;
    /// Counts one failed login for each of `subjects`, in one statement: a window that started
    /// at or before `since` starts again at `now`.
    fn record_login_failure(
        &self,
        subjects: &[&str],
        now: Timestamp,
        since: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Forgets the failures of `subject` (a successful login).
    fn clear_login_failures(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes up to 100 windows that started before `before` (they count for nothing).
    fn prune_login_failures(
        &self,
        before: Timestamp,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// Publishes a signing key's public half, timed by the store's clock; publishing a key again
    /// keeps its first time, so a key never becomes newer than its successor.
    fn publish_signing_key(
        &self,
        key: &PublishedKey,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The `limit` most recently published keys, newest first.
    fn signing_keys(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<PublishedKey>, StoreError>> + Send;
}

/// [`AccountStore`] on Aurora MySQL through the RDS Data API.
pub struct DataApiAccountStore {
    db: DataApi,
}

impl DataApiAccountStore {
    /// A store over `db`.
    pub fn new(db: DataApi) -> Self {
        Self { db }
    }

    async fn rotate_in(
        &self,
        tx: &Transaction<'_>,
        token_hash: &str,
        successor_hash: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<Rotation, StoreError> {
        let rows: Vec<TokenRow> = tx
            .query(
                &format!(
                    "SELECT session_id AS sessionId, rotated_at AS rotatedAt, \
                     expires_at AS expiresAt, {DB_NOW} AS dbNow \
                     FROM refresh_tokens WHERE token_hash = :hash FOR UPDATE"
                ),
                vec![param("hash", token_hash)],
            )
            .await?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(Rotation::Invalid);
        };
        let session_id = uuid(&row.session_id)?;
        if let Some(rotated_at) = row.rotated_at {
            return Ok(Rotation::Reused {
                session_id,
                since: Timestamp::from_millis(row.db_now).since(Timestamp::from_millis(rotated_at)),
            });
        }
        if row.expires_at <= now.millis() {
            return Ok(Rotation::Invalid);
        }
        let slid = tx
            .execute(
                "UPDATE sessions SET expires_at = :expiresAt, last_refreshed_at = :now \
                 WHERE id = :id AND revoked_at IS NULL AND expires_at > :now",
                vec![
                    param("id", session_id),
                    param("now", now.millis()),
                    param("expiresAt", expires_at.millis()),
                ],
            )
            .await?;
        if slid == 0 {
            return Ok(Rotation::Invalid);
        }
        let sessions: Vec<SessionRow> = tx
            .query(
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.id = :id"
                ),
                vec![param("id", session_id)],
            )
            .await?;
        let Some(session) = sessions.into_iter().next() else {
            return Ok(Rotation::Invalid);
        };
        let session = session.into_record()?;
        insert_refresh_token(tx, &session, successor_hash).await?;
        // Last, by the database's clock: the rotation's time is as close to its commit as a
        // statement can put it, so the reuse grace counts from when the successor existed.
        tx.execute(
            &format!("UPDATE refresh_tokens SET rotated_at = {DB_NOW} WHERE token_hash = :hash"),
            vec![param("hash", token_hash)],
        )
        .await?;
        Ok(Rotation::Rotated { session })
    }
}

/// The refresh token `token_hash`'s row.
async fn token_record(db: &DataApi, token_hash: &str) -> Result<Option<TokenRow>, StoreError> {
    let rows: Vec<TokenRow> = db
        .query(
            &format!(
                "SELECT session_id AS sessionId, rotated_at AS rotatedAt, \
                     expires_at AS expiresAt, {DB_NOW} AS dbNow \
                     FROM refresh_tokens WHERE token_hash = :hash"
            ),
            vec![param("hash", token_hash)],
        )
        .await?;
    Ok(rows.into_iter().next())
}

/// A login's or a rotation's commit, recognised by the refresh token it stores.
struct StoredRefreshToken<'a>(&'a str);

impl CommitEvidence for StoredRefreshToken<'_> {
    async fn is_committed(&self, db: &DataApi) -> Result<bool, StoreError> {
        Ok(token_record(db, self.0).await?.is_some())
    }
}

/// The failed logins of one subject in its current window.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureWindow {
    /// The subject's digest.
    pub subject: String,
    /// Failures counted since the window started.
    pub failures: i64,
    /// When the window started.
    #[serde(deserialize_with = "millis")]
    pub window_started_at: Timestamp,
}

fn millis<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    i64::deserialize(d).map(Timestamp::from_millis)
}

impl AccountStore for DataApiAccountStore {
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let inserted = self
            .db
            .execute(
                "INSERT INTO users (id, email, email_normalized, display_name, password_hash, role, created_at) \
                 VALUES (:id, :email, :normalized, :displayName, :hash, :role, :createdAt)",
                vec![
                    param("id", user.id),
                    param("email", user.email.as_str()),
                    param("normalized", normalize_email(&user.email)),
                    param("displayName", user.display_name.clone()),
                    param("hash", user.password_hash.as_str()),
                    param("role", user.role.as_str()),
                    param("createdAt", user.created_at.millis()),
                ],
            )
            .await;
        match inserted {
            Err(StoreError::Duplicate) => match self.user_by_email(&user.email).await? {
                Some(holder) if holder.id == user.id => Ok(()),
                _ => Err(StoreError::Duplicate),
            },
            other => other.map(drop),
        }
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        let rows: Vec<UserRow> = self
            .db
            .query(
                "SELECT id, email, display_name AS displayName, password_hash AS passwordHash, role, \
                 created_at AS createdAt FROM users WHERE email_normalized = :normalized",
                vec![param("normalized", normalize_email(email))],
            )
            .await?;
        rows.into_iter()
            .next()
            .map(|r| {
                Ok(UserRecord {
                    id: uuid(&r.id)?,
                    email: r.email,
                    display_name: r.display_name,
                    password_hash: r.password_hash,
                    role: role(&r.role)?,
                    created_at: Timestamp::from_millis(r.created_at),
                })
            })
            .transpose()
    }

    async fn replace_password_hash(
        &self,
        id: Uuid,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError> {
        let changed = self
            .db
            .execute(
                "UPDATE users SET password_hash = :new WHERE id = :id AND password_hash = :old",
                vec![param("id", id), param("old", old), param("new", new)],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn insert_session(
        &self,
        session: &SessionRecord,
        token_hash: &str,
    ) -> Result<(), StoreError> {
        let evidence = StoredRefreshToken(token_hash);
        let mut attempts = self.db.write_attempts(&evidence);
        loop {
            let tx = attempts.begin().await?;
            let decided = async {
                tx.execute(
                    "INSERT INTO sessions (id, user_id, created_at, expires_at, last_refreshed_at, \
                     user_agent, source_ip) VALUES (:id, :userId, :createdAt, :expiresAt, \
                     :lastRefreshedAt, :userAgent, :sourceIp) ON DUPLICATE KEY UPDATE id = id",
                    vec![
                        param("id", session.session_id),
                        param("userId", session.user_id),
                        param("createdAt", session.created_at.millis()),
                        param("expiresAt", session.expires_at.millis()),
                        param("lastRefreshedAt", session.last_refreshed_at.millis()),
                        param("userAgent", session.user_agent.clone()),
                        param("sourceIp", session.source_ip.clone()),
                    ],
                )
                .await?;
                insert_refresh_token(&tx, session, token_hash).await?;
                Ok(Outcome::Commit(()))
            }
            .await;
            if let Some(done) = attempts.end(tx, decided).await? {
                return Ok(done);
            }
        }
    }

    async fn live_session(
        &self,
        id: Uuid,
        now: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let rows: Vec<SessionRow> = self
            .db
            .query(
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.id = :id AND s.revoked_at IS NULL AND s.expires_at > :now"
                ),
                vec![param("id", id), param("now", now.millis())],
            )
            .await?;
        rows.into_iter()
            .next()
            .map(SessionRow::into_record)
            .transpose()
    }

    async fn session_of_current_token(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let rows: Vec<SessionRow> = self
            .db
            .query(
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM refresh_tokens r \
                     JOIN sessions s ON s.id = r.session_id JOIN users u ON u.id = s.user_id \
                     WHERE r.token_hash = :hash AND r.rotated_at IS NULL AND r.expires_at > :now \
                     AND s.revoked_at IS NULL AND s.expires_at > :now"
                ),
                vec![param("hash", token_hash), param("now", now.millis())],
            )
            .await?;
        rows.into_iter()
            .next()
            .map(SessionRow::into_record)
            .transpose()
    }

    async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        successor_hash: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<Rotation, StoreError> {
        let evidence = StoredRefreshToken(successor_hash);
        let mut attempts = self.db.write_attempts(&evidence);
        loop {
            let tx = attempts.begin().await?;
            let decided = self
                .rotate_in(&tx, token_hash, successor_hash, now, expires_at)
                .await
                .map(|rotation| match rotation {
                    rotated @ Rotation::Rotated { .. } => Outcome::Commit(rotated),
                    other => Outcome::RollBack(other),
                });
            if let Some(rotation) = attempts.end(tx, decided).await? {
                return Ok(rotation);
            }
        }
    }

    async fn live_sessions_of(
        &self,
        user_id: Uuid,
        now: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let rows: Vec<SessionRow> = self
            .db
            .query(
                &format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.user_id = :user AND s.revoked_at IS NULL AND s.expires_at > :now \
                     ORDER BY s.created_at DESC LIMIT 100"
                ),
                vec![param("user", user_id), param("now", now.millis())],
            )
            .await?;
        rows.into_iter().map(SessionRow::into_record).collect()
    }

    async fn revoke_sessions_of(
        &self,
        user_id: Uuid,
        now: Timestamp,
    ) -> Result<Vec<Uuid>, StoreError> {
        #[derive(Deserialize)]
        struct Id {
            id: String,
        }
        let live: Vec<Id> = self
            .db
            .query(
                "SELECT id FROM sessions WHERE user_id = :user AND revoked_at IS NULL",
                vec![param("user", user_id)],
            )
            .await?;
        // A session created between the two statements is revoked too; its id is then missing
        // from the answer, which only costs it its Redis tombstone (the database refuses it).
        self.db
            .execute(
                "UPDATE sessions SET revoked_at = :now WHERE user_id = :user AND revoked_at IS NULL",
                vec![param("user", user_id), param("now", now.millis())],
            )
            .await?;
        live.iter().map(|row| uuid(&row.id)).collect()
    }

    async fn prune_sessions(&self, before: Timestamp) -> Result<i64, StoreError> {
        #[derive(Deserialize)]
        struct Id {
            id: String,
        }
        // Each arm reads one index range, at most 100 rows.
        let ended: Vec<Id> = self
            .db
            .query(
                "(SELECT id FROM sessions WHERE expires_at < :before LIMIT 100) UNION \
                 (SELECT id FROM sessions WHERE revoked_at < :before LIMIT 100)",
                vec![param("before", before.millis())],
            )
            .await?;
        if ended.is_empty() {
            return Ok(0);
        }
        let (names, params): (Vec<String>, Vec<_>) = ended
            .iter()
            .enumerate()
            .map(|(i, row)| (format!(":s{i}"), param(&format!("s{i}"), row.id.as_str())))
            .unzip();
        let list = names.join(", ");
        self.db
            .execute(
                &format!("DELETE FROM refresh_tokens WHERE session_id IN ({list})"),
                params.clone(),
            )
            .await?;
        self.db
            .execute(
                &format!("DELETE FROM sessions WHERE id IN ({list})"),
                params,
            )
            .await
    }

    async fn revoke_session(&self, id: Uuid, now: Timestamp) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE sessions SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL",
                vec![param("id", id), param("now", now.millis())],
            )
            .await?;
        self.db
            .execute(
                "UPDATE refresh_tokens SET rotated_at = :now WHERE session_id = :id AND rotated_at IS NULL",
                vec![param("id", id), param("now", now.millis())],
            )
            .await
            .map(drop)
    }

    async fn login_failures(
        &self,
        subjects: &[&str],
        since: Timestamp,
    ) -> Result<Vec<FailureWindow>, StoreError> {
        let (names, mut params) = subject_params(subjects);
        params.push(param("since", since.millis()));
        self.db
            .query(
                &format!(
                    "SELECT subject, failures, window_started_at AS windowStartedAt \
                     FROM login_failures WHERE subject IN ({names}) AND window_started_at > :since"
                ),
                params,
            )
            .await
    }

    async fn record_login_failure(
        &self,
        subjects: &[&str],
        now: Timestamp,
        since: Timestamp,
    ) -> Result<(), StoreError> {
        let (_, mut params) = subject_params(subjects);
        let rows: Vec<String> = (0..subjects.len())
            .map(|i| format!("(:s{i}, 1, :now)"))
            .collect();
        params.push(param("now", now.millis()));
        params.push(param("since", since.millis()));
        // Assignments run left to right: `failures` is decided on the old window start.
        self.db
            .execute(
                &format!(
                    "INSERT INTO login_failures (subject, failures, window_started_at) VALUES {} \
                     ON DUPLICATE KEY UPDATE \
                     failures = IF(window_started_at <= :since, 1, failures + 1), \
                     window_started_at = IF(window_started_at <= :since, :now, window_started_at)",
                    rows.join(", ")
                ),
                params,
            )
            .await
            .map(drop)
    }

    async fn clear_login_failures(&self, subject: &str) -> Result<(), StoreError> {
        self.db
            .execute(
                "DELETE FROM login_failures WHERE subject = :s",
                vec![param("s", subject)],
            )
            .await
            .map(drop)
    }

    async fn prune_login_failures(&self, before: Timestamp) -> Result<i64, StoreError> {
        self.db
            .execute(
                "DELETE FROM login_failures WHERE window_started_at < :before LIMIT 100",
                vec![param("before", before.millis())],
            )
            .await
    }

    async fn publish_signing_key(&self, key: &PublishedKey) -> Result<(), StoreError> {
        self.db
            .execute(
                &format!(
                    "INSERT IGNORE INTO signing_keys (kid, public_key, published_at) \
                     VALUES (:kid, :publicKey, {DB_NOW})"
                ),
                vec![
                    param("kid", key.kid.as_str()),
                    param("publicKey", key.public_key.as_str()),
                ],
            )
            .await
            .map(drop)
    }

    async fn signing_keys(&self, limit: usize) -> Result<Vec<PublishedKey>, StoreError> {
        self.db
            .query(
                &format!(
                    "SELECT kid, public_key AS publicKey FROM signing_keys \
                     ORDER BY published_at DESC, kid DESC LIMIT {limit}"
                ),
                vec![],
            )
            .await
    }
}

/// `:s0, :s1, …` and their parameters.
fn subject_params(subjects: &[&str]) -> (String, Vec<aws_sdk_rdsdata::types::SqlParameter>) {
    let names: Vec<String> = (0..subjects.len()).map(|i| format!(":s{i}")).collect();
    let params = subjects
        .iter()
        .enumerate()
        .map(|(i, subject)| param(&format!("s{i}"), *subject))
        .collect();
    (names.join(", "), params)
}

/// Stores a refresh token (by hash) of `session`, valid until the session's expiry (idempotent:
/// a retried statement is a no-op).
async fn insert_refresh_token(
    tx: &Transaction<'_>,
    session: &SessionRecord,
    token_hash: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, user_id, created_at, expires_at) \
         VALUES (:hash, :sessionId, :userId, :createdAt, :expiresAt) \
         ON DUPLICATE KEY UPDATE token_hash = token_hash",
        vec![
            param("hash", token_hash),
            param("sessionId", session.session_id),
            param("userId", session.user_id),
            param("createdAt", session.last_refreshed_at.millis()),
            param("expiresAt", session.expires_at.millis()),
        ],
    )
    .await
    .map(drop)
}
