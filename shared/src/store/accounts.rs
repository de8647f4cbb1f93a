//! Users, sessions and refresh tokens on the Data API: the source of truth for authentication.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{param, DataApi, StoreError};
use crate::auth::Role;
use crate::time::Timestamp;

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

/// The outcome of presenting a refresh token for rotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// This call rotated it: it belongs to `session_id`.
    Rotated {
        /// The session.
        session_id: Uuid,
    },
    /// It had already been rotated: a reuse (or a lost race).
    Reused {
        /// The session it belonged to.
        session_id: Uuid,
        /// When it was rotated.
        rotated_at: Timestamp,
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
}

fn uuid(text: &str) -> Result<Uuid, StoreError> {
    Uuid::try_parse(text).map_err(|_| StoreError::Corrupt(format!("bad id {text:?}")))
}

fn role(text: &str) -> Role {
    if text == "admin" {
        Role::Admin
    } else {
        Role::User
    }
}

/// The account tables over the Data API.
pub struct AccountStore {
    db: DataApi,
}

impl AccountStore {
    /// A store over `db`.
    pub fn new(db: DataApi) -> Self {
        Self { db }
    }

    /// Inserts a user; [`StoreError::Duplicate`] if the (normalized) email is taken.
    pub async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        self.db
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
            .await
            .map(drop)
    }

    /// The user registered with `email` (case-insensitively).
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
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
                    role: role(&r.role),
                    created_at: Timestamp::from_millis(r.created_at),
                })
            })
            .transpose()
    }

    /// Stores a new session and its first refresh token (by hash).
    pub async fn insert_session(
        &self,
        session: &SessionRecord,
        token_hash: &str,
    ) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT INTO sessions (id, user_id, created_at, expires_at, last_refreshed_at, user_agent, source_ip) \
                 VALUES (:id, :userId, :createdAt, :expiresAt, :lastRefreshedAt, :userAgent, :sourceIp)",
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
        self.insert_refresh_token(session, token_hash).await
    }

    /// Stores a refresh token (by hash) of `session`, valid until the session's expiry.
    pub async fn insert_refresh_token(
        &self,
        session: &SessionRecord,
        token_hash: &str,
    ) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT INTO refresh_tokens (token_hash, session_id, user_id, created_at, expires_at) \
                 VALUES (:hash, :sessionId, :userId, :createdAt, :expiresAt)",
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

    /// The live (not revoked, not expired at `now`) session `id`.
    pub async fn live_session(
        &self,
        id: Uuid,
        now: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let rows: Vec<SessionRow> = self
            .db
            .query(
                "SELECT s.id, s.user_id AS userId, u.role, s.created_at AS createdAt, \
                 s.expires_at AS expiresAt, s.last_refreshed_at AS lastRefreshedAt, \
                 s.user_agent AS userAgent, s.source_ip AS sourceIp \
                 FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.id = :id AND s.revoked_at IS NULL AND s.expires_at > :now",
                vec![param("id", id), param("now", now.millis())],
            )
            .await?;
        rows.into_iter()
            .next()
            .map(|r| {
                Ok(SessionRecord {
                    session_id: uuid(&r.id)?,
                    user_id: uuid(&r.user_id)?,
                    role: role(&r.role),
                    created_at: Timestamp::from_millis(r.created_at),
                    expires_at: Timestamp::from_millis(r.expires_at),
                    last_refreshed_at: Timestamp::from_millis(r.last_refreshed_at),
                    user_agent: r.user_agent,
                    source_ip: r.source_ip,
                })
            })
            .transpose()
    }

    /// Marks the refresh token rotated, atomically: of concurrent calls exactly one gets
    /// [`Rotation::Rotated`].
    pub async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Rotation, StoreError> {
        let changed = self
            .db
            .execute(
                "UPDATE refresh_tokens SET rotated_at = :now \
                 WHERE token_hash = :hash AND rotated_at IS NULL AND expires_at > :now",
                vec![param("hash", token_hash), param("now", now.millis())],
            )
            .await?;
        let rows: Vec<TokenRow> = self
            .db
            .query(
                "SELECT session_id AS sessionId, rotated_at AS rotatedAt \
                 FROM refresh_tokens WHERE token_hash = :hash",
                vec![param("hash", token_hash)],
            )
            .await?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(Rotation::Invalid);
        };
        let session_id = uuid(&row.session_id)?;
        Ok(if changed == 1 {
            Rotation::Rotated { session_id }
        } else if let Some(rotated_at) = row.rotated_at {
            Rotation::Reused {
                session_id,
                rotated_at: Timestamp::from_millis(rotated_at),
            }
        } else {
            Rotation::Invalid
        })
    }

    /// Slides a live session's expiry; returns whether it was still live.
    pub async fn slide_session(
        &self,
        id: Uuid,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let changed = self
            .db
            .execute(
                "UPDATE sessions SET expires_at = :expiresAt, last_refreshed_at = :now \
                 WHERE id = :id AND revoked_at IS NULL AND expires_at > :now",
                vec![
                    param("id", id),
                    param("now", now.millis()),
                    param("expiresAt", expires_at.millis()),
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Revokes a session and every refresh token of it.
    pub async fn revoke_session(&self, id: Uuid, now: Timestamp) -> Result<(), StoreError> {
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
}

/// The form of an email used for uniqueness: trimmed and lowercased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}
