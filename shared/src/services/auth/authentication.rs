//! The session check every authenticated request goes through: a valid access token whose
//! session is alive in the database. All a function serving authenticated routes needs, and all
//! tools-write holds: it verifies tokens with public keys and cannot issue one.

use std::time::Duration;

use uuid::Uuid;

use super::tokens::{TokenError, TokenVerifier, KEY_REFRESH};
use super::AuthError;
use crate::cache::{CacheService, Lookup};
use crate::config::AuthConfig;
use crate::domain::{Actor, Timestamp};
use crate::store::{AccountStore, DataApi, DataApiAccountStore, SessionRecord};

/// What Redis holds for a revoked session while its access tokens could still be presented.
const TOMBSTONE: &[u8] = b"{\"revoked\":true}";

/// Verifies access tokens and checks their session, over an [`AccountStore`].
pub struct Authentication<A = DataApiAccountStore> {
    pub(super) accounts: A,
    pub(super) cache: CacheService,
    verifier: TokenVerifier,
    access_token_ttl: Duration,
}

impl Authentication<DataApiAccountStore> {
    /// The production wiring from `config`.
    pub fn from_config(config: &crate::config::Config, cache: CacheService) -> Self {
        Self::new(
            DataApiAccountStore::new(DataApi::new(config.database.clone())),
            cache,
            &config.auth,
        )
    }
}

impl<A: AccountStore> Authentication<A> {
    /// A session check over the account store (which also holds the published keys) and the
    /// cache.
    pub fn new(accounts: A, cache: CacheService, auth: &AuthConfig) -> Self {
        Self {
            accounts,
            cache,
            verifier: TokenVerifier::new(auth, KEY_REFRESH),
            access_token_ttl: auth.access_token_ttl,
        }
    }

    /// The cache.
    pub fn cache(&self) -> &CacheService {
        &self.cache
    }

    /// The caller of a bearer token: a valid JWT whose session is alive *in the database*.
    /// Redis is read first and may reject early (a revoked session's tombstone).
    pub async fn authenticate(&self, token: &str) -> Result<(Actor, SessionRecord), AuthError> {
        let claims =
            self.verifier
                .verify(token, &self.accounts)
                .await
                .map_err(|error| match error {
                    TokenError::Invalid => AuthError::InvalidToken,
                    TokenError::KeysUnavailable(error) => error.into(),
                })?;
        let cached = self.cache.get_session(claims.sid).await;
        if let Lookup::Hit(bytes) = &cached {
            if bytes.as_ref() == TOMBSTONE {
                return Err(AuthError::InvalidToken);
            }
        }
        let now = Timestamp::now();
        let session = self
            .accounts
            .live_session(claims.sid, now)
            .await?
            .filter(|s| s.user_id == claims.sub)
            .ok_or(AuthError::InvalidToken)?;
        if cached == Lookup::Miss {
            self.cache_session(&session, now).await;
        }
        let actor = Actor {
            user_id: session.user_id,
            session_id: session.session_id,
            role: session.role,
        };
        Ok((actor, session))
    }

    /// Best effort: the database already refuses a revoked session; the tombstone lets Redis
    /// refuse it early for as long as an access token of it could still be presented.
    pub(super) async fn tombstone(&self, session_id: Uuid) {
        let ttl = self.access_token_ttl.max(Duration::from_secs(1));
        if let Err(error) = self.cache.set_session(session_id, TOMBSTONE, ttl).await {
            tracing::warn!(%session_id, %error, "session tombstone not cached; the database still refuses it");
        }
    }

    /// Copies a live session into Redis for its time left.
    pub(super) async fn cache_session(&self, session: &SessionRecord, now: Timestamp) {
        let left = session.expires_at.millis() - now.millis();
        if left <= 0 {
            return;
        }
        if let Ok(json) = serde_json::to_vec(session) {
            let _ = self
                .cache
                .set_session(
                    session.session_id,
                    &json,
                    Duration::from_millis(left as u64),
                )
                .await;
        }
    }
}
