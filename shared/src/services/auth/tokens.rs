//! Access tokens: HS256 JWTs with the algorithm pinned and every registered claim checked.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::AuthConfig;
use crate::domain::{Role, Timestamp};

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

/// Why a token was refused. Deliberately coarse: the client learns only that it is invalid.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Bad signature, algorithm, claims, expiry, or not a JWT at all.
    #[error("invalid or expired access token")]
    Invalid,
}

/// Issues and verifies access tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_secs: i64,
}

impl TokenKeys {
    /// Keys from the configured secret, issuer, audience and lifetime.
    pub fn new(config: &AuthConfig) -> Self {
        let secret = config.jwt_secret.expose();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[config.issuer.as_str()]);
        validation.set_audience(&[config.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 5;
        validation.validate_exp = true;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            ttl_secs: config.access_token_ttl.as_secs() as i64,
        }
    }

    /// The lifetime of issued tokens, in seconds.
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// Signs a token for `user` in `session`, valid from `now` for the configured lifetime.
    pub fn issue(&self, user: Uuid, session: Uuid, role: Role, now: Timestamp) -> String {
        let iat = now.millis() / 1000;
        let claims = AccessClaims {
            sub: user,
            sid: session,
            role,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat,
            exp: iat + self.ttl_secs,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing with an HMAC key cannot fail")
    }

    /// The claims of a valid token.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| TokenError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use uuid::Uuid;

    fn keys() -> TokenKeys {
        TokenKeys::new(&Config::from_lookup(|_| None).unwrap().auth)
    }

    #[test]
    fn issued_tokens_verify_and_tampered_ones_do_not() {
        let keys = keys();
        let (user, session) = (Uuid::now_v7(), Uuid::now_v7());
        let token = keys.issue(user, session, Role::User, Timestamp::now());
        let claims = keys.verify(&token).unwrap();
        assert_eq!(
            (claims.sub, claims.sid, claims.role),
            (user, session, Role::User)
        );
        let mut parts: Vec<&str> = token.split('.').collect();
        let admin = keys.issue(user, session, Role::Admin, Timestamp::now());
        parts[1] = admin.split('.').nth(1).unwrap();
        assert!(keys.verify(&parts.join(".")).is_err());
        assert!(keys.verify("garbage").is_err());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let keys = keys();
        let long_ago = Timestamp::from_millis(Timestamp::now().millis() - 3_600_000);
        let token = keys.issue(Uuid::now_v7(), Uuid::now_v7(), Role::User, long_ago);
        assert!(keys.verify(&token).is_err());
    }
}
