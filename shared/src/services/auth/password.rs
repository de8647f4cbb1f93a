//! Argon2id password hashing, with the same work spent for unknown users as for wrong passwords.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::config::PasswordConfig;

/// Hashes and verifies passwords (Argon2id, PHC strings). Cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    argon2: Argon2<'static>,
    /// A hash of a random password with the same parameters, verified when the user is unknown.
    dummy: OnceLock<String>,
}

impl PasswordHasher {
    /// A hasher with the configured memory and iteration costs (parallelism 1); costs Argon2
    /// refuses are an error, never replaced by other ones.
    pub fn new(config: &PasswordConfig) -> Result<Self, argon2::Error> {
        let params = Params::new(config.memory_kib, config.iterations, 1, None)?;
        Ok(Self {
            inner: Arc::new(Inner {
                argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
                dummy: OnceLock::new(),
            }),
        })
    }

    /// A PHC string of `password` with a fresh random salt. CPU-bound: call it off the runtime.
    pub fn hash(&self, password: &str) -> Result<String, argon2::password_hash::Error> {
        let salt = SaltString::generate(&mut OsRng);
        self.inner
            .argon2
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
    }

    /// Whether `password` matches `phc`; `None` spends the same work on a dummy hash and fails.
    pub fn verify(&self, password: &str, phc: Option<&str>) -> bool {
        let dummy = self.inner.dummy.get_or_init(|| {
            self.hash("an unguessable password nobody has")
                .expect("hashing with costs Argon2 accepted succeeds")
        });
        let (phc, real) = match phc {
            Some(phc) => (phc, true),
            None => (dummy.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(phc) else {
            // An unusable stored hash (e.g. a seeded account without a password): same work, no.
            let _ = PasswordHash::new(dummy)
                .map(|d| self.inner.argon2.verify_password(password.as_bytes(), &d));
            return false;
        };
        let ok = self
            .inner
            .argon2
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        ok && real
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_password() {
        let hasher = PasswordHasher::new(&PasswordConfig {
            memory_kib: 1024,
            iterations: 1,
        })
        .unwrap();
        let phc = hasher.hash("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(hasher.verify("correct horse", Some(&phc)));
        assert!(!hasher.verify("wrong horse", Some(&phc)));
        assert!(!hasher.verify("correct horse", None));
        assert!(!hasher.verify("correct horse", Some("!")));
    }

    #[test]
    fn costs_argon2_refuses_are_an_error() {
        let config = PasswordConfig {
            memory_kib: 1,
            iterations: 1,
        };
        assert!(PasswordHasher::new(&config).is_err());
    }
}
