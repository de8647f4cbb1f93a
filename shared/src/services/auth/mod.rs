//! `AuthService`: registration, login, refresh-token rotation, logout and the session check every
//! authenticated request goes through.
//!
//! The database is authoritative for whether a session or refresh token is alive. Redis holds a
//! copy of each session (TTL = its time left) and of each refresh token's record (by hash), and a
//! tombstone for revoked sessions: it can *deny* early, but never *grants* on its own, so a
//! revocation Redis could not take (outage, timeout, `CLIENT PAUSE … WRITE`) cannot let a revoked
//! session back in.

use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

mod authentication;
mod device;
mod password;
mod throttle;
mod tokens;

pub use authentication::Authentication;
pub use password::PasswordHasher;
pub use tokens::{AccessClaims, PublishedKey, TokenError, TokenSigner, TokenVerifier};

use device::DeviceKey;
use throttle::{account_of, LoginAttempt, Throttle};

use crate::cache::CacheService;
use crate::domain::{Actor, FieldError, Role, Timestamp};
use crate::store::{
    AccountStore, DataApi, DataApiAccountStore, Rotation, SessionRecord, StoreError, UserRecord,
};

/// Errors of the auth flows; `http` maps them to problem documents.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown email or wrong password (one message for both).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// Missing, invalid, expired, rotated or revoked token or session.
    #[error("the token is invalid, expired or revoked")]
    InvalidToken,
    /// The email is registered already.
    #[error("an account with this email already exists")]
    EmailTaken,
    /// Invalid fields.
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    /// Too many failed logins (of the account or from the address), or registrations from the
    /// address: try again after this long.
    #[error("too many attempts; try again in {} s", .0.as_secs().max(1))]
    Throttled(Duration),
    /// The database is unreachable.
    #[error("the database is unavailable")]
    Unavailable,
    /// A server-side fault.
    #[error("internal error: {0}")]
    Internal(String),
    /// No live session of the caller has this id.
    #[error("no live session of yours has this id")]
    SessionNotFound,
}

impl From<StoreError> for AuthError {
    fn from(error: StoreError) -> Self {
        super::store_failure(error, Self::Unavailable, Self::Internal)
    }
}

/// One of the caller's live sessions, as `GET /auth/sessions` lists it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedSession {
    /// Session id.
    pub session_id: Uuid,
    /// When it was created (its login).
    pub created_at: Timestamp,
    /// Its last refresh (its creation until the first).
    pub last_refreshed_at: Timestamp,
    /// When it ends unless refreshed.
    pub expires_at: Timestamp,
    /// The `User-Agent` of its login.
    pub user_agent: Option<String>,
    /// The source address of its login.
    pub source_ip: Option<String>,
    /// Whether it is the session of the token that asks.
    pub current: bool,
}

/// What the client told us about itself at login.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// Source address.
    pub source_ip: Option<String>,
}

/// The answer of login and refresh.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenPair {
    /// A JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token lives.
    pub expires_in: i64,
    /// The opaque refresh token (shown once, stored only as a hash).
    pub refresh_token: String,
    /// Seconds the refresh token lives.
    pub refresh_expires_in: i64,
    /// The session both belong to.
    pub session_id: Uuid,
    /// After a login: the token that makes this device a known place for the account at its
    /// next logins (send it back as `deviceToken`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
}

/// The public view of a user.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    /// Id.
    pub id: Uuid,
    /// Email as registered.
    pub email: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Role.
    pub role: Role,
    /// Registration time.
    pub created_at: Timestamp,
}

/// The public view of a session (`GET /auth/session`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// Session id.
    pub session_id: Uuid,
    /// Its user.
    pub user_id: Uuid,
    /// Creation time.
    pub created_at: Timestamp,
    /// Expiry.
    pub expires_at: Timestamp,
    /// Last refresh.
    pub last_refreshed_at: Timestamp,
}

impl From<&SessionRecord> for SessionView {
    fn from(s: &SessionRecord) -> Self {
        Self {
            session_id: s.session_id,
            user_id: s.user_id,
            created_at: s.created_at,
            expires_at: s.expires_at,
            last_refreshed_at: s.last_refreshed_at,
        }
    }
}

/// Accounts and sessions over an [`AccountStore`] (the Data API's unless a test says otherwise):
/// the auth function's service, the one that signs access tokens.
pub struct AuthService<A = DataApiAccountStore> {
    authentication: Authentication<A>,
    signer: TokenSigner,
    /// Set once this instance's signing key is published: no token is signed before.
    key_published: tokio::sync::OnceCell<()>,
    passwords: PasswordHasher,
    successors: SuccessorKey,
    devices: DeviceKey,
    device_token_ttl: Duration,
    session_retention: Duration,
    throttle: Throttle,
    session_ttl: Duration,
    reuse_grace: Duration,
}

/// Derives a refresh token's successor: `base64url(HMAC-SHA256(key, token))`. Deterministic, so
/// a refresh retried after its answer was lost gets the same successor again, while only the
/// successor's hash is ever stored; keyed, so nobody without the key can derive it.
#[derive(Clone)]
struct SuccessorKey(Hmac<Sha256>);

impl SuccessorKey {
    fn new(secret: &[u8]) -> Self {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
        // Domain separation: this key derives refresh tokens, nothing else.
        mac.update(b"mcp-registry refresh-token successor\0");
        Self(mac)
    }

    fn successor_of(&self, token: &str) -> String {
        let mut mac = self.0.clone();
        mac.update(token.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

impl<A: AccountStore> AuthService<A> {
    /// A service over the account store and the cache. A rotated refresh token presented again
    /// within `reuse_grace` of its rotation is taken for a lost race (refused, session kept);
    /// later, for theft (the session is revoked). Logins and registrations are throttled within
    /// `limits`. Access tokens are signed with the key of `auth`'s signing secret.
    pub fn new(
        accounts: A,
        cache: CacheService,
        passwords: PasswordHasher,
        auth: &crate::config::AuthConfig,
        limits: crate::config::ThrottleConfig,
    ) -> Self {
        Self {
            throttle: Throttle::new(cache.clone(), limits),
            authentication: Authentication::new(accounts, cache, auth),
            signer: TokenSigner::new(&auth.signing_secret, auth),
            key_published: tokio::sync::OnceCell::new(),
            passwords,
            successors: SuccessorKey::new(auth.refresh_secret.expose()),
            devices: DeviceKey::new(auth.refresh_secret.expose()),
            device_token_ttl: auth.device_token_ttl,
            session_retention: auth.session_retention,
            session_ttl: auth.session_ttl,
            reuse_grace: auth.refresh_reuse_grace,
        }
    }

    /// The session check (the same as tools-write's).
    pub fn authentication(&self) -> &Authentication<A> {
        &self.authentication
    }

    /// The cache.
    pub fn cache(&self) -> &CacheService {
        &self.authentication.cache
    }

    fn accounts(&self) -> &A {
        &self.authentication.accounts
    }

    /// Publishes this instance's signing key unless it did already: verifiers must find a key
    /// before its first token reaches them.
    pub async fn publish_signing_key(&self) -> Result<(), AuthError> {
        self.key_published
            .get_or_try_init(|| async {
                self.accounts()
                    .publish_signing_key(self.signer.published_key())
                    .await
            })
            .await?;
        Ok(())
    }

    /// `POST /auth/register`, from `client` (whose address is limited in registrations).
    pub async fn register(&self, body: &Value, client: &ClientInfo) -> Result<UserView, AuthError> {
        let input = RegisterInput::parse(body).map_err(AuthError::Invalid)?;
        if let Some(wait) = self
            .throttle
            .admit_registration(client.source_ip.as_deref())
            .await
        {
            return Err(AuthError::Throttled(wait));
        }
        let hasher = self.passwords.clone();
        let password = input.password.clone();
        let hash = tokio::task::spawn_blocking(move || hasher.hash(&password))
            .await
            .map_err(|e| AuthError::Internal(e.to_string()))?
            .map_err(|e| AuthError::Internal(format!("password hashing failed: {e}")))?;
        let user = UserRecord {
            id: Uuid::now_v7(),
            email: input.email,
            display_name: input.display_name,
            password_hash: hash,
            role: Role::User,
            created_at: Timestamp::now(),
        };
        self.accounts()
            .insert_user(&user)
            .await
            .map_err(|e| match e {
                StoreError::Duplicate => AuthError::EmailTaken,
                other => other.into(),
            })?;
        Ok(UserView {
            id: user.id,
            email: user.email,
            display_name: user.display_name,
            role: user.role,
            created_at: user.created_at,
        })
    }

    /// `POST /auth/login`: a new session with its first refresh token. Throttled per account and
    /// per source address before any database or hashing work; an unknown email costs the same
    /// hashing as a wrong password and counts the same.
    pub async fn login(&self, body: &Value, client: ClientInfo) -> Result<TokenPair, AuthError> {
        let email = string_field(body, "email")?;
        let password = string_field(body, "password")?;
        let device_token = optional_string_field(body, "deviceToken")?;
        self.publish_signing_key().await?;
        let now = Timestamp::now();
        let account = account_of(&email);
        let device = device_token.and_then(|token| {
            self.devices
                .verify(&token, &account, now, self.device_token_ttl)
        });
        let attempt = LoginAttempt::new(account, client.source_ip.as_deref(), device.as_deref());
        if let Some(wait) = self.throttle.admit_login(&attempt).await {
            return Err(AuthError::Throttled(wait));
        }
        let since = self.throttle.login_window_start(now);
        let subjects = attempt.subjects();
        let looked_up = tokio::try_join!(
            self.accounts().user_by_email(&email),
            self.accounts().login_failures(&subjects, since),
        );
        // An attempt that gets no password check counts in no window.
        let (user, counters) = match looked_up {
            Ok(found) => found,
            Err(error) => {
                self.throttle.take_back(&attempt).await;
                return Err(error.into());
            }
        };
        if let Some(wait) = self.throttle.refused_by_counters(&attempt, &counters, now) {
            self.throttle.take_back(&attempt).await;
            return Err(AuthError::Throttled(wait));
        }
        let hasher = self.passwords.clone();
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let candidate = password.clone();
        let ok = tokio::task::spawn_blocking(move || hasher.verify(&candidate, stored.as_deref()))
            .await
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        let user = match (ok, user) {
            (true, Some(user)) => user,
            _ => {
                // Unrecorded, a failure would not count: no answer without the record.
                self.accounts()
                    .record_login_failure(&subjects, now, since)
                    .await?;
                return Err(AuthError::InvalidCredentials);
            }
        };
        self.throttle.login_succeeded(&attempt).await;
        self.upgrade_password_hash(&user, password).await;
        let place = attempt.place();
        if counters.iter().any(|c| c.subject == place) {
            self.accounts().clear_login_failures(place).await?;
        }
        // Windows of unknown emails and of addresses are never cleared: one login in 16 prunes
        // those that ended (on success only, so failures of real and unknown emails stay alike).
        if rand::random::<u8>() < 16 {
            let ended = now.minus(self.session_retention);
            let (failures, sessions) = tokio::join!(
                self.accounts().prune_login_failures(since),
                self.accounts().prune_sessions(ended),
            );
            if let Err(error) = failures.and(sessions) {
                tracing::debug!(%error, "pruning ended login-failure windows or sessions failed");
            }
        }
        let session = SessionRecord {
            session_id: Uuid::now_v7(),
            user_id: user.id,
            role: user.role,
            created_at: now,
            expires_at: now.plus(self.session_ttl),
            last_refreshed_at: now,
            user_agent: client.user_agent.map(|ua| ua.chars().take(512).collect()),
            source_ip: client.source_ip.map(|ip| ip.chars().take(64).collect()),
        };
        let (refresh, refresh_hash) = new_refresh_token();
        self.accounts()
            .insert_session(&session, &refresh_hash)
            .await?;
        self.authentication.cache_session(&session, now).await;
        Ok(TokenPair {
            device_token: Some(self.devices.issue(attempt.account(), now)),
            ..self.token_pair(&session, refresh, now)
        })
    }

    /// Replaces `user`'s password hash when it was made at other costs than the configured ones,
    /// with `password` (just verified) hashed at them. Best effort: the old hash still verifies.
    async fn upgrade_password_hash(&self, user: &UserRecord, password: String) {
        if !self.passwords.needs_rehash(&user.password_hash) {
            return;
        }
        let hasher = self.passwords.clone();
        let rehashed = match tokio::task::spawn_blocking(move || hasher.hash(&password)).await {
            Ok(Ok(phc)) => phc,
            _ => return,
        };
        match self
            .accounts()
            .replace_password_hash(user.id, &user.password_hash, &rehashed)
            .await
        {
            Ok(_) => tracing::info!(user = %user.id, "password rehashed at the configured costs"),
            Err(error) => tracing::warn!(%error, "password not rehashed; the old hash stays"),
        }
    }

    /// `POST /auth/refresh`: rotates the refresh token (exactly once under races, in one
    /// transaction) and slides the session. The successor is derived from the presented token, so
    /// a client that retries within the grace window (its answer was lost, or a second tab raced
    /// it) gets the same successor; a token rotated longer ago revokes the whole session.
    pub async fn refresh(&self, body: &Value) -> Result<TokenPair, AuthError> {
        let presented = string_field(body, "refreshToken")?;
        self.publish_signing_key().await?;
        let presented_hash = sha256_hex(&presented);
        let successor = self.successors.successor_of(&presented);
        let successor_hash = sha256_hex(&successor);
        let now = Timestamp::now();
        let rotation = self
            .accounts()
            .rotate_refresh_token(
                &presented_hash,
                &successor_hash,
                now,
                now.plus(self.session_ttl),
            )
            .await?;
        match rotation {
            Rotation::Invalid => Err(AuthError::InvalidToken),
            Rotation::Rotated { session } => {
                self.authentication.cache_session(&session, now).await;
                Ok(self.token_pair(&session, successor, now))
            }
            Rotation::Reused { session_id, since } => {
                if since > self.reuse_grace {
                    tracing::warn!(%session_id, "refresh token reused: revoking the session");
                    self.revoke(session_id, now).await?;
                    return Err(AuthError::InvalidToken);
                }
                // A retry, or two refreshes of one token racing: the successor is the answer as
                // long as it is the session's current token.
                match self
                    .accounts()
                    .session_of_current_token(&successor_hash, now)
                    .await?
                {
                    Some(session) if session.session_id == session_id => {
                        tracing::info!(%session_id, since_ms = since.as_millis() as u64, "refresh repeated within the grace window");
                        Ok(self.token_pair(&session, successor, now))
                    }
                    _ => {
                        tracing::info!(%session_id, since_ms = since.as_millis() as u64, "refresh lost the race to a newer one");
                        Err(AuthError::InvalidToken)
                    }
                }
            }
        }
    }

    /// `POST /auth/logout`: revokes the caller's session (and with it every refresh token of it).
    pub async fn logout(&self, actor: &Actor, body: Option<&Value>) -> Result<(), AuthError> {
        // The body may name the session's refresh token: the revocation covers it (and every
        // other of the session), but a body that names none is still refused.
        match body {
            None => {}
            Some(Value::Object(fields)) if fields.is_empty() => {}
            Some(body) => drop(string_field(body, "refreshToken")?),
        }
        self.revoke(actor.session_id, Timestamp::now()).await
    }

    async fn revoke(&self, session_id: Uuid, now: Timestamp) -> Result<(), AuthError> {
        self.accounts().revoke_session(session_id, now).await?;
        self.authentication.tombstone(session_id).await;
        Ok(())
    }

    /// `GET /auth/sessions`: the caller's live sessions, newest first, the caller's own marked.
    pub async fn sessions(&self, actor: &Actor) -> Result<Vec<ListedSession>, AuthError> {
        let sessions = self
            .accounts()
            .live_sessions_of(actor.user_id, Timestamp::now())
            .await?;
        Ok(sessions
            .into_iter()
            .map(|s| ListedSession {
                current: s.session_id == actor.session_id,
                session_id: s.session_id,
                created_at: s.created_at,
                last_refreshed_at: s.last_refreshed_at,
                expires_at: s.expires_at,
                user_agent: s.user_agent,
                source_ip: s.source_ip,
            })
            .collect())
    }

    /// `DELETE /auth/sessions/{id}`: revokes one of the caller's live sessions (the caller's own
    /// included), at once on every instance, as a logout does.
    pub async fn revoke_session(&self, actor: &Actor, id: Uuid) -> Result<(), AuthError> {
        let now = Timestamp::now();
        match self.accounts().live_session(id, now).await? {
            Some(session) if session.user_id == actor.user_id => self.revoke(id, now).await,
            _ => Err(AuthError::SessionNotFound),
        }
    }

    /// `POST /auth/logout-all`: revokes every live session of the caller, this one included.
    pub async fn logout_all(&self, actor: &Actor) -> Result<(), AuthError> {
        let revoked = self
            .accounts()
            .revoke_sessions_of(actor.user_id, Timestamp::now())
            .await?;
        futures_util::future::join_all(
            revoked
                .into_iter()
                .map(|id| self.authentication.tombstone(id)),
        )
        .await;
        Ok(())
    }

    fn token_pair(&self, session: &SessionRecord, refresh: String, now: Timestamp) -> TokenPair {
        TokenPair {
            access_token: self
                .signer
                .issue(session.user_id, session.session_id, session.role, now),
            token_type: "Bearer",
            expires_in: self.signer.ttl_secs(),
            refresh_token: refresh,
            refresh_expires_in: (session.expires_at.millis() - now.millis()) / 1000,
            session_id: session.session_id,
            device_token: None,
        }
    }
}

impl AuthService<DataApiAccountStore> {
    /// The production wiring from `config`; fails on Argon2 costs Argon2 refuses.
    pub fn from_config(
        config: &crate::config::Config,
        cache: CacheService,
    ) -> Result<Self, crate::config::ConfigError> {
        let passwords = PasswordHasher::new(&config.passwords).map_err(|error| {
            crate::config::ConfigError::Invalid {
                name: "ARGON2_MEMORY_KIB",
                reason: format!("Argon2 refuses these costs (with ARGON2_ITERATIONS): {error}"),
            }
        })?;
        Ok(Self::new(
            DataApiAccountStore::new(DataApi::new(config.database.clone())),
            cache,
            passwords,
            &config.auth,
            config.throttle.clone(),
        ))
    }
}

/// A 256-bit random refresh token (base64url) and its SHA-256 (hex).
fn new_refresh_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = sha256_hex(&token);
    (token, hash)
}

/// Hex SHA-256 of a token: the only form in which tokens are stored.
pub fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// An optional string field: absent or `null` is `None`; anything else but a string of at
/// most 4096 bytes is refused.
fn optional_string_field(body: &Value, field: &str) -> Result<Option<String>, AuthError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= 4096 => Ok(Some(s.clone())),
        Some(_) => Err(AuthError::Invalid(vec![FieldError::new(
            field,
            "must be a string",
        )])),
    }
}

fn string_field(body: &Value, field: &str) -> Result<String, AuthError> {
    match body.get(field) {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 4096 => Ok(s.clone()),
        Some(_) => Err(AuthError::Invalid(vec![FieldError::new(
            field,
            "must be a non-empty string",
        )])),
        None => Err(AuthError::Invalid(vec![FieldError::new(
            field,
            "is required",
        )])),
    }
}

struct RegisterInput {
    email: String,
    password: String,
    display_name: Option<String>,
}

impl RegisterInput {
    fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let Some(fields) = body.as_object() else {
            return Err(vec![FieldError::new("", "the body must be a JSON object")]);
        };
        let mut errors = Vec::new();
        let mut input = Self {
            email: String::new(),
            password: String::new(),
            display_name: None,
        };
        for (key, value) in fields {
            match (key.as_str(), value) {
                ("email", Value::String(email)) if is_email(email) => {
                    input.email = email.trim().to_owned()
                }
                ("email", _) => errors.push(FieldError::new("email", "must be an email address")),
                ("password", Value::String(p)) if (8..=256).contains(&p.chars().count()) => {
                    input.password = p.clone()
                }
                ("password", _) => errors.push(FieldError::new(
                    "password",
                    "must be 8 to 256 characters long",
                )),
                ("displayName", Value::Null) => {}
                ("displayName", Value::String(name))
                    if (1..=200).contains(&name.chars().count()) =>
                {
                    input.display_name = Some(name.clone())
                }
                ("displayName", _) => errors.push(FieldError::new(
                    "displayName",
                    "must be 1 to 200 characters long",
                )),
                (other, _) => {
                    errors.push(FieldError::new(other, "is not a field of a registration"))
                }
            }
        }
        for required in ["email", "password"] {
            if !fields.contains_key(required) {
                errors.push(FieldError::new(required, "is required"));
            }
        }
        if errors.is_empty() {
            Ok(input)
        } else {
            Err(errors)
        }
    }
}

fn is_email(text: &str) -> bool {
    let text = text.trim();
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    (3..=320).contains(&text.len())
        && !local.is_empty()
        && local.len() <= 64
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn registration_rules() {
        assert!(RegisterInput::parse(&json!({"email": "a@b.co", "password": "12345678"})).is_ok());
        let bad =
            RegisterInput::parse(&json!({"email": "nope", "password": "short", "role": "admin"}));
        let Err(errors) = bad else {
            panic!("accepted an invalid registration")
        };
        let mut fields: Vec<String> = errors.into_iter().map(|e| e.field).collect();
        fields.sort();
        assert_eq!(fields, ["email", "password", "role"]);
    }

    #[test]
    fn refresh_tokens_are_256_bit_and_stored_as_their_sha256() {
        let (token, hash) = new_refresh_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&token).unwrap().len(), 32);
        assert_eq!(hash, sha256_hex(&token));
        // FIPS 180-2's "abc" vector: the stored form is the lowercase hex of SHA-256.
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(new_refresh_token().0, token, "random, not derived");
    }

    #[test]
    fn successors_are_keyed_deterministic_and_distinct() {
        let key = SuccessorKey::new(b"one key of at least thirty-two bytes....");
        let (token, _) = new_refresh_token();
        let successor = key.successor_of(&token);
        assert_eq!(
            successor,
            key.successor_of(&token),
            "recomputable on a retry"
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(&successor).unwrap().len(), 32);
        assert_ne!(
            successor,
            key.successor_of(&successor),
            "a chain, not a fixed point"
        );
        let other = SuccessorKey::new(b"another key of at least thirty-two bytes");
        assert_ne!(successor, other.successor_of(&token), "keyed");
    }

    /// A service over accounts in memory, with Redis unreachable (so only the database's
    /// counters throttle), cheap hashing, a 1 s refresh grace window, at most 3 failed logins
    /// per account from unknown places, 5 per place and 20 per address.
    fn service() -> AuthService<crate::store::memory::MemoryAccountStore> {
        let config = crate::config::Config::from_lookup(|name| {
            Some(
                match name {
                    "REDIS_URL" => "not a redis url",
                    "ARGON2_MEMORY_KIB" => "1024",
                    "ARGON2_ITERATIONS" => "1",
                    "REFRESH_REUSE_GRACE_MS" => "1000",
                    "LOGIN_MAX_FAILURES" => "3",
                    "LOGIN_MAX_FAILURES_PER_PLACE" => "5",
                    "LOGIN_MAX_FAILURES_PER_ADDRESS" => "20",
                    _ => return None,
                }
                .to_owned(),
            )
        })
        .expect("config");
        AuthService::new(
            crate::store::memory::MemoryAccountStore::new(),
            CacheService::new(&config.cache),
            PasswordHasher::new(&config.passwords).unwrap(),
            &config.auth,
            config.throttle.clone(),
        )
    }

    const PASSWORD: &str = "a long enough password";

    fn from(address: &str) -> ClientInfo {
        ClientInfo {
            user_agent: None,
            source_ip: Some(address.to_owned()),
        }
    }

    async fn registered(auth: &AuthService<crate::store::memory::MemoryAccountStore>) -> String {
        let email = format!("{}@example.com", Uuid::now_v7().simple());
        let body = json!({"email": email, "password": PASSWORD});
        auth.register(&body, &from("192.0.2.1")).await.unwrap();
        email
    }

    async fn login(
        auth: &AuthService<crate::store::memory::MemoryAccountStore>,
        email: &str,
        password: &str,
        address: &str,
    ) -> Result<TokenPair, AuthError> {
        let body = json!({"email": email, "password": password});
        auth.login(&body, from(address)).await
    }

    async fn refresh(
        auth: &AuthService<crate::store::memory::MemoryAccountStore>,
        token: &str,
    ) -> Result<TokenPair, AuthError> {
        auth.refresh(&json!({"refreshToken": token})).await
    }

    #[tokio::test]
    async fn a_login_rehashes_a_password_stored_at_other_costs() {
        let mut auth = service();
        let email = registered(&auth).await;
        let stored = |auth: &AuthService<crate::store::memory::MemoryAccountStore>| {
            let user = futures_util::FutureExt::now_or_never(auth.accounts().user_by_email(&email))
                .unwrap()
                .unwrap()
                .unwrap();
            user.password_hash
        };
        let before = stored(&auth);
        // The costs are raised (a redeploy with new ARGON2_* values).
        auth.passwords = PasswordHasher::new(&crate::config::PasswordConfig {
            memory_kib: 2048,
            iterations: 2,
        })
        .unwrap();
        assert!(auth.passwords.needs_rehash(&before));
        assert!(login(&auth, &email, "a wrong password", "192.0.2.9")
            .await
            .is_err());
        assert_eq!(stored(&auth), before, "a failed login changes nothing");
        login(&auth, &email, PASSWORD, "192.0.2.9").await.unwrap();
        let after = stored(&auth);
        assert!(after.contains("$m=2048,t=2,p=1$"), "{after}");
        assert!(!auth.passwords.needs_rehash(&after));
        login(&auth, &email, PASSWORD, "192.0.2.9").await.unwrap();
    }

    #[tokio::test]
    async fn a_refresh_repeated_within_the_grace_window_gets_the_same_successor() {
        let auth = service();
        let email = registered(&auth).await;
        let first = login(&auth, &email, PASSWORD, "192.0.2.2").await.unwrap();
        let next = refresh(&auth, &first.refresh_token).await.unwrap();
        let again = refresh(&auth, &first.refresh_token).await.unwrap();
        assert_eq!(again.refresh_token, next.refresh_token);
        assert_eq!(again.session_id, first.session_id);
        assert!(auth
            .authentication()
            .authenticate(&again.access_token)
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn a_rotated_token_presented_after_the_grace_window_revokes_the_session() {
        let auth = service();
        let email = registered(&auth).await;
        let first = login(&auth, &email, PASSWORD, "192.0.2.3").await.unwrap();
        let next = refresh(&auth, &first.refresh_token).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let reuse = refresh(&auth, &first.refresh_token).await;
        assert!(matches!(reuse, Err(AuthError::InvalidToken)), "{reuse:?}");
        let revoked = auth.authentication().authenticate(&next.access_token).await;
        assert!(
            matches!(revoked, Err(AuthError::InvalidToken)),
            "{revoked:?}"
        );
        let successor = refresh(&auth, &next.refresh_token).await;
        assert!(
            matches!(successor, Err(AuthError::InvalidToken)),
            "{successor:?}"
        );
    }

    #[tokio::test]
    async fn a_refresh_that_lost_to_a_newer_one_is_refused_and_the_session_lives() {
        let auth = service();
        let email = registered(&auth).await;
        let first = login(&auth, &email, PASSWORD, "192.0.2.4").await.unwrap();
        let second = refresh(&auth, &first.refresh_token).await.unwrap();
        let third = refresh(&auth, &second.refresh_token).await.unwrap();
        let late = refresh(&auth, &first.refresh_token).await;
        assert!(matches!(late, Err(AuthError::InvalidToken)), "{late:?}");
        assert!(auth
            .authentication()
            .authenticate(&third.access_token)
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn without_redis_the_database_throttles_an_account_real_or_unknown() {
        let auth = service();
        let email = registered(&auth).await;
        let unknown = format!("nobody-{}@example.com", Uuid::now_v7().simple());
        for subject in [&email, &unknown] {
            for i in 0..3 {
                let address = format!("198.51.100.{i}");
                let failed = login(&auth, subject, "a wrong password", &address).await;
                assert!(
                    matches!(failed, Err(AuthError::InvalidCredentials)),
                    "{failed:?}"
                );
            }
            let throttled = login(&auth, subject, PASSWORD, "198.51.100.9").await;
            assert!(
                matches!(throttled, Err(AuthError::Throttled(_))),
                "{throttled:?}"
            );
        }
    }

    async fn login_on(
        auth: &AuthService<crate::store::memory::MemoryAccountStore>,
        email: &str,
        password: &str,
        address: &str,
        device_token: &str,
    ) -> Result<TokenPair, AuthError> {
        let body = json!({"email": email, "password": password, "deviceToken": device_token});
        auth.login(&body, from(address)).await
    }

    /// The lockout attack of OWASP's cheat sheet, with only the database's counters (Redis is
    /// unreachable here): strangers spend the account's unknown-places window, the owner's known
    /// device still logs in, and a stolen device token is itself bounded.
    #[tokio::test]
    async fn strangers_never_lock_the_owner_out_of_a_known_device() {
        let auth = service();
        let email = registered(&auth).await;
        let device = login(&auth, &email, PASSWORD, "192.0.2.1")
            .await
            .unwrap()
            .device_token
            .expect("a login hands out a device token");
        for i in 0..3 {
            let guess = login(
                &auth,
                &email,
                "a wrong password",
                &format!("198.51.100.{i}"),
            )
            .await;
            assert!(
                matches!(guess, Err(AuthError::InvalidCredentials)),
                "{guess:?}"
            );
        }
        let stranger = login(&auth, &email, "another guess", "198.51.100.200").await;
        assert!(
            matches!(stranger, Err(AuthError::Throttled(_))),
            "{stranger:?}"
        );
        let new_device = login(&auth, &email, PASSWORD, "192.0.2.2").await;
        assert!(
            matches!(new_device, Err(AuthError::Throttled(_))),
            "{new_device:?}"
        );
        // The owner's device, from wherever it is now.
        let owner = login_on(&auth, &email, PASSWORD, "192.0.2.3", &device).await;
        assert!(owner.is_ok(), "{owner:?}");
        // Another account's device token, or a forged one, is no known place.
        let other = registered(&auth).await;
        let other_device = login(&auth, &other, PASSWORD, "192.0.2.4")
            .await
            .unwrap()
            .device_token
            .unwrap();
        let borrowed = login_on(&auth, &email, PASSWORD, "192.0.2.5", &other_device).await;
        assert!(
            matches!(borrowed, Err(AuthError::Throttled(_))),
            "{borrowed:?}"
        );
        // A device token only buys guesses on that device, up to its own limit.
        let stolen = owner.unwrap().device_token.unwrap();
        for _ in 0..5 {
            let guess = login_on(&auth, &email, "a wrong password", "198.51.100.9", &stolen).await;
            assert!(
                matches!(guess, Err(AuthError::InvalidCredentials)),
                "{guess:?}"
            );
        }
        let spent = login_on(&auth, &email, PASSWORD, "198.51.100.9", &stolen).await;
        assert!(matches!(spent, Err(AuthError::Throttled(_))), "{spent:?}");
        assert!(
            login_on(&auth, &email, PASSWORD, "192.0.2.3", &device)
                .await
                .is_ok(),
            "the owner's other device is its own place"
        );
    }

    #[tokio::test]
    async fn a_successful_login_clears_the_failures_of_its_place() {
        let auth = service();
        let email = registered(&auth).await;
        let mut device = login(&auth, &email, PASSWORD, "192.0.2.1")
            .await
            .unwrap()
            .device_token
            .unwrap();
        for round in 0..3 {
            for _ in 0..4 {
                let failed =
                    login_on(&auth, &email, "a wrong password", "192.0.2.1", &device).await;
                assert!(
                    matches!(failed, Err(AuthError::InvalidCredentials)),
                    "{round}"
                );
            }
            let ok = login_on(&auth, &email, PASSWORD, "192.0.2.1", &device).await;
            device = ok
                .expect("the place's window was cleared")
                .device_token
                .unwrap();
        }
    }

    #[tokio::test]
    async fn the_address_limit_spans_accounts() {
        let auth = service();
        for _ in 0..20 {
            let email = registered(&auth).await;
            let failed = login(&auth, &email, "a wrong password", "203.0.113.50").await;
            assert!(
                matches!(failed, Err(AuthError::InvalidCredentials)),
                "{failed:?}"
            );
        }
        let email = registered(&auth).await;
        let throttled = login(&auth, &email, PASSWORD, "203.0.113.50").await;
        assert!(
            matches!(throttled, Err(AuthError::Throttled(_))),
            "{throttled:?}"
        );
        assert!(login(&auth, &email, PASSWORD, "203.0.113.51").await.is_ok());
    }
}
