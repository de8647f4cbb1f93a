//! Access tokens: EdDSA (Ed25519) JWTs with a `kid`, the algorithm pinned and every registered
//! claim checked.
//!
//! Only the auth function holds a private key ([`TokenSigner`], derived from its signing
//! secret). It publishes the public half in the database before it signs with it; every verifier
//! ([`TokenVerifier`]) holds public keys only, read from there, and accepts the two newest. A key
//! rotation therefore logs nobody out: the previous key's tokens verify until they expire.

use std::collections::HashMap;
use std::future::Future;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{
    decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::{AuthConfig, Secret};
use crate::domain::{Role, Timestamp};
pub use crate::store::PublishedKey;
use crate::store::{AccountStore, StoreError};

/// How many published keys a verifier accepts: the current one and the one before it.
pub const ACCEPTED_KEYS: usize = 2;

/// How long a verifier trusts the keys it read before reading them again (so a key retired by
/// two rotations stops verifying within this time).
pub const KEY_REFRESH: Duration = Duration::from_secs(60);

/// The least time between two reads of the keys by one verifier. A token naming a key it does
/// not know makes it read them again (a key is published before its first token, so a read that
/// began after the token arrived finds it), but it waits for this interval to pass first: tokens
/// naming made-up keys cost the database at most one small read per interval and instance.
const KEY_READ_MIN_INTERVAL: Duration = Duration::from_millis(250);

/// The claims of an access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id.
    pub sub: Uuid,
    /// The session id.
    pub sid: Uuid,
    /// The user's role when the token was issued.
    pub role: Role,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
}

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Bad signature, algorithm, key id, claims, expiry, or not a JWT at all. Deliberately
    /// coarse: the client learns only that it is invalid.
    #[error("invalid or expired access token")]
    Invalid,
    /// The token names a key this verifier has not read yet, and the keys could not be read.
    #[error("the signing keys cannot be read: {0}")]
    KeysUnavailable(StoreError),
}

/// Where verifiers find the published keys: the account store (the database).
pub trait KeyDirectory: Send + Sync {
    /// The newest [`ACCEPTED_KEYS`] published keys, newest first.
    fn accepted_keys(&self) -> impl Future<Output = Result<Vec<PublishedKey>, StoreError>> + Send;
}

impl<A: AccountStore> KeyDirectory for A {
    fn accepted_keys(&self) -> impl Future<Output = Result<Vec<PublishedKey>, StoreError>> + Send {
        self.signing_keys(ACCEPTED_KEYS)
    }
}

/// The claims every token carries and every verifier requires.
#[derive(Clone)]
struct ClaimRules {
    issuer: String,
    audience: String,
    ttl_secs: i64,
}

impl ClaimRules {
    fn new(config: &AuthConfig) -> Self {
        Self {
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            ttl_secs: config.access_token_ttl.as_secs() as i64,
        }
    }
}

/// Signs access tokens: the auth function's alone.
#[derive(Clone)]
pub struct TokenSigner {
    key: EncodingKey,
    published: PublishedKey,
    rules: ClaimRules,
}

impl TokenSigner {
    /// The key derived from `secret` (`TOKEN_SIGNING_SECRET`): the Ed25519 seed is the secret's
    /// domain-separated SHA-256, so one generated string is all a deployment stores.
    pub fn new(secret: &Secret, config: &AuthConfig) -> Self {
        let seed: [u8; 32] = Sha256::new()
            .chain_update(b"mcp-registry access-token signing key\0")
            .chain_update(secret.expose())
            .finalize()
            .into();
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        let der = signing
            .to_pkcs8_der()
            .expect("an Ed25519 key always encodes as PKCS#8");
        let public = signing.verifying_key().to_bytes();
        Self {
            key: EncodingKey::from_ed_der(der.as_bytes()),
            published: PublishedKey {
                kid: URL_SAFE_NO_PAD.encode(&Sha256::digest(public)[..12]),
                public_key: URL_SAFE_NO_PAD.encode(public),
            },
            rules: ClaimRules::new(config),
        }
    }

    /// The public half, to publish before the first token is signed.
    pub fn published_key(&self) -> &PublishedKey {
        &self.published
    }

    /// The lifetime of issued tokens, in seconds.
    pub fn ttl_secs(&self) -> i64 {
        self.rules.ttl_secs
    }

    /// Signs a token for `user` in `session`, valid from `now` for the configured lifetime.
    pub fn issue(&self, user: Uuid, session: Uuid, role: Role, now: Timestamp) -> String {
        let iat = now.millis() / 1000;
        let claims = AccessClaims {
            sub: user,
            sid: session,
            role,
            iss: self.rules.issuer.clone(),
            aud: self.rules.audience.clone(),
            iat,
            exp: iat + self.rules.ttl_secs,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.published.kid.clone());
        encode(&header, &claims, &self.key).expect("Ed25519 signing with a valid key cannot fail")
    }
}

/// The keys a verifier read, and when that read began.
#[derive(Default)]
struct KeyRing {
    keys: HashMap<String, DecodingKey>,
    read_at: Option<Instant>,
}

/// Verifies access tokens against the published keys, which it reads again every
/// [`KEY_REFRESH`] and when a token names a key it has not read.
pub struct TokenVerifier {
    validation: Validation,
    ring: RwLock<KeyRing>,
    reading: tokio::sync::Mutex<()>,
    refresh: Duration,
}

impl TokenVerifier {
    /// A verifier of the configured issuer and audience that re-reads the keys every `refresh`.
    pub fn new(config: &AuthConfig, refresh: Duration) -> Self {
        let rules = ClaimRules::new(config);
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.set_issuer(&[rules.issuer.as_str()]);
        validation.set_audience(&[rules.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 5;
        validation.validate_exp = true;
        Self {
            validation,
            ring: RwLock::default(),
            reading: tokio::sync::Mutex::new(()),
            refresh,
        }
    }

    /// The claims of a valid token, signed by one of the keys `directory` accepts.
    pub async fn verify(
        &self,
        token: &str,
        directory: &impl KeyDirectory,
    ) -> Result<AccessClaims, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let arrived = Instant::now();
        let key = match self.cached(&kid, self.refresh) {
            Some(key) => key,
            None => match self.read_keys(directory, arrived).await {
                Ok(()) => self
                    .cached(&kid, Duration::MAX)
                    .ok_or(TokenError::Invalid)?,
                // Keys read before still verify what they signed until the keys answer again.
                Err(error) => self
                    .cached(&kid, Duration::MAX)
                    .ok_or(TokenError::KeysUnavailable(error))?,
            },
        };
        decode::<AccessClaims>(token, &key, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| TokenError::Invalid)
    }

    /// The key `kid` if it was read no longer than `max_age` ago.
    fn cached(&self, kid: &str, max_age: Duration) -> Option<DecodingKey> {
        let ring = self.ring.read().unwrap_or_else(|e| e.into_inner());
        let fresh = ring.read_at.is_some_and(|at| at.elapsed() <= max_age);
        fresh.then(|| ring.keys.get(kid).cloned()).flatten()
    }

    /// Reads the accepted keys for a token that `arrived`, unless a read that began since then
    /// did (one read serves every token waiting for it), no sooner than the minimum interval
    /// after the previous read.
    async fn read_keys(
        &self,
        directory: &impl KeyDirectory,
        arrived: Instant,
    ) -> Result<(), StoreError> {
        let _reading = self.reading.lock().await;
        let last = self.ring.read().unwrap_or_else(|e| e.into_inner()).read_at;
        if let Some(last) = last {
            if last >= arrived {
                return Ok(());
            }
            tokio::time::sleep_until((last + KEY_READ_MIN_INTERVAL).into()).await;
        }
        let started = Instant::now();
        let keys = directory
            .accepted_keys()
            .await?
            .into_iter()
            .take(ACCEPTED_KEYS)
            .filter_map(|key| {
                // A row that is not an Ed25519 key verifies nothing.
                let decoding = DecodingKey::from_ed_components(&key.public_key).ok()?;
                Some((key.kid, decoding))
            })
            .collect();
        *self.ring.write().unwrap_or_else(|e| e.into_inner()) = KeyRing {
            keys,
            read_at: Some(started),
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// Published keys in memory, newest last, counting the reads.
    #[derive(Default)]
    struct Keys {
        published: Mutex<Vec<PublishedKey>>,
        reads: AtomicUsize,
    }

    impl Keys {
        fn publish(&self, signer: &TokenSigner) {
            self.published
                .lock()
                .unwrap()
                .push(signer.published_key().clone());
        }
    }

    impl KeyDirectory for Keys {
        async fn accepted_keys(&self) -> Result<Vec<PublishedKey>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let published = self.published.lock().unwrap();
            Ok(published
                .iter()
                .rev()
                .take(ACCEPTED_KEYS)
                .cloned()
                .collect())
        }
    }

    fn config() -> AuthConfig {
        Config::from_lookup(|_| None).unwrap().auth
    }

    fn signer(secret: &str) -> TokenSigner {
        TokenSigner::new(&Secret::new(secret), &config())
    }

    fn token(signer: &TokenSigner) -> String {
        signer.issue(Uuid::now_v7(), Uuid::now_v7(), Role::User, Timestamp::now())
    }

    #[tokio::test]
    async fn issued_tokens_verify_and_tampered_ones_do_not() {
        let (keys, signer) = (Keys::default(), signer("the first signing secret"));
        keys.publish(&signer);
        let verifier = TokenVerifier::new(&config(), KEY_REFRESH);
        let (user, session) = (Uuid::now_v7(), Uuid::now_v7());
        let token = signer.issue(user, session, Role::User, Timestamp::now());
        let claims = verifier.verify(&token, &keys).await.unwrap();
        assert_eq!(
            (claims.sub, claims.sid, claims.role),
            (user, session, Role::User)
        );
        let mut parts: Vec<&str> = token.split('.').collect();
        let admin = signer.issue(user, session, Role::Admin, Timestamp::now());
        parts[1] = admin.split('.').nth(1).unwrap();
        assert!(verifier.verify(&parts.join("."), &keys).await.is_err());
        assert!(verifier.verify("garbage", &keys).await.is_err());
    }

    #[tokio::test]
    async fn expired_tokens_are_refused() {
        let (keys, signer) = (Keys::default(), signer("the first signing secret"));
        keys.publish(&signer);
        let long_ago = Timestamp::from_millis(Timestamp::now().millis() - 3_600_000);
        let token = signer.issue(Uuid::now_v7(), Uuid::now_v7(), Role::User, long_ago);
        let verifier = TokenVerifier::new(&config(), KEY_REFRESH);
        assert!(matches!(
            verifier.verify(&token, &keys).await,
            Err(TokenError::Invalid)
        ));
    }

    #[tokio::test]
    async fn the_previous_key_verifies_until_a_second_rotation() {
        let keys = Keys::default();
        let [first, second, third] =
            ["first", "second", "third"].map(|s| signer(&format!("{s} signing secret")));
        keys.publish(&first);
        let (old, verifier) = (token(&first), TokenVerifier::new(&config(), Duration::ZERO));
        assert!(verifier.verify(&old, &keys).await.is_ok());
        keys.publish(&second);
        let new = token(&second);
        assert!(
            verifier.verify(&new, &keys).await.is_ok(),
            "a new kid is read"
        );
        assert!(verifier.verify(&old, &keys).await.is_ok(), "previous key");
        keys.publish(&third);
        assert!(verifier.verify(&token(&third), &keys).await.is_ok());
        assert!(
            matches!(verifier.verify(&old, &keys).await, Err(TokenError::Invalid)),
            "retired by the second rotation"
        );
        assert!(verifier.verify(&new, &keys).await.is_ok());
    }

    #[tokio::test]
    async fn unpublished_keys_and_other_algorithms_are_refused_and_reads_are_bounded() {
        let keys = Keys::default();
        let (published, foreign) = (
            signer("published signing secret"),
            signer("never published"),
        );
        keys.publish(&published);
        let verifier = TokenVerifier::new(&config(), KEY_REFRESH);
        assert!(verifier.verify(&token(&published), &keys).await.is_ok());
        // Made-up keys arriving together share one read.
        let forged: Vec<String> = (0..50).map(|_| token(&foreign)).collect();
        let refused =
            futures_util::future::join_all(forged.iter().map(|t| verifier.verify(t, &keys))).await;
        assert!(refused
            .iter()
            .all(|r| matches!(r, Err(TokenError::Invalid))));
        assert_eq!(keys.reads.load(Ordering::SeqCst), 2);
        // One after another, each waits for the interval: at most one read per interval.
        let started = Instant::now();
        for _ in 0..3 {
            assert!(verifier.verify(&token(&foreign), &keys).await.is_err());
        }
        assert_eq!(keys.reads.load(Ordering::SeqCst), 5);
        assert!(started.elapsed() >= KEY_READ_MIN_INTERVAL * 3);
        // The same claims and kid under HS256, keyed with the public key (algorithm confusion).
        let rules = ClaimRules::new(&config());
        let claims = AccessClaims {
            sub: Uuid::now_v7(),
            sid: Uuid::now_v7(),
            role: Role::Admin,
            iss: rules.issuer,
            aud: rules.audience,
            iat: Timestamp::now().millis() / 1000,
            exp: Timestamp::now().millis() / 1000 + 60,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(published.published_key().kid.clone());
        let public = URL_SAFE_NO_PAD
            .decode(&published.published_key().public_key)
            .unwrap();
        let confused = encode(&header, &claims, &EncodingKey::from_secret(&public)).unwrap();
        assert!(matches!(
            verifier.verify(&confused, &keys).await,
            Err(TokenError::Invalid)
        ));
        // No kid at all.
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = None;
        let without_kid = encode(&header, &claims, &published.key).unwrap();
        assert!(matches!(
            verifier.verify(&without_kid, &keys).await,
            Err(TokenError::Invalid)
        ));
    }

    #[test]
    fn the_key_follows_the_secret() {
        let key = |s: &str| signer(s).published_key().clone();
        assert_eq!(key("one signing secret"), key("one signing secret"));
        assert_ne!(key("one signing secret"), key("another signing secret"));
        assert_eq!(key("one signing secret").kid.len(), 16);
    }
}
