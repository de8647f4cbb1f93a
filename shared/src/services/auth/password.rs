//! Argon2id password hashing, with the same work spent for unknown users as for wrong passwords.

use std::sync::Arc;

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
    /// A PHC string with the configured costs whose output no password yields, verified when the
    /// user is unknown: the same Argon2 work as a real check, made without hashing anything.
    dummy: String,
}

impl PasswordHasher {
    /// A hasher with the configured memory and iteration costs (parallelism 1); costs Argon2
    /// refuses are an error, never replaced by other ones.
    pub fn new(config: &PasswordConfig) -> Result<Self, argon2::Error> {
        let params = Params::new(config.memory_kib, config.iterations, 1, None)?;
        // A fixed 16-byte salt and an all-zero 32-byte output, in PHC's unpadded base64.
        let dummy = format!(
            "$argon2id$v=19$m={},t={},p=1$ZHVtbXktc2FsdC0xNmJ5dA${}",
            params.m_cost(),
            params.t_cost(),
            "A".repeat(43)
        );
        Ok(Self {
            inner: Arc::new(Inner {
                argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
                dummy,
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

    /// Whether `phc` was made with other costs (or another algorithm or version) than this
    /// hasher's: a hash to replace at the next successful login. An unreadable one is not (it
    /// verifies nothing).
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let (Ok(stored), Ok(current)) =
            (PasswordHash::new(phc), PasswordHash::new(&self.inner.dummy))
        else {
            return false;
        };
        stored.algorithm != current.algorithm
            || stored.version != current.version
            || stored.params != current.params
    }

    /// Whether `password` matches `phc`; `None` spends the same work on a dummy hash and fails.
    pub fn verify(&self, password: &str, phc: Option<&str>) -> bool {
        let dummy = &self.inner.dummy;
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
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let config = PasswordConfig {
            memory_kib: 2048,
            iterations: 3,
        };
        let hasher = PasswordHasher::new(&config).unwrap();
        let dummy = PasswordHash::new(&hasher.inner.dummy).expect("the dummy is a PHC string");
        let real = hasher.hash("correct horse").unwrap();
        let real = PasswordHash::new(&real).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.params, real.params, "same costs, so the same work");
        assert_eq!(dummy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
    }

    #[test]
    fn a_hash_made_at_other_costs_needs_a_rehash() {
        let old = PasswordHasher::new(&PasswordConfig {
            memory_kib: 1024,
            iterations: 1,
        })
        .unwrap();
        let new = PasswordHasher::new(&PasswordConfig {
            memory_kib: 2048,
            iterations: 1,
        })
        .unwrap();
        let phc = old.hash("correct horse").unwrap();
        assert!(!old.needs_rehash(&phc));
        assert!(new.needs_rehash(&phc));
        assert!(
            new.verify("correct horse", Some(&phc)),
            "old hashes still verify"
        );
        assert!(!new.needs_rehash("!"));
    }

    /// An unknown email costs what a known one does at the configured costs, before and after a
    /// cost change (the dummy follows the configuration), within 25 %: medians of 7, each sample
    /// taken right after an unmeasured run of the same kind, so both kinds meet the allocator in
    /// the same state (measured alternately, whichever runs first after the other pays for
    /// fresh pages of its 19 MiB).
    #[test]
    fn unknown_and_known_emails_take_the_same_time_before_and_after_a_cost_change() {
        for (memory_kib, iterations) in [(19_456, 2), (12_288, 3)] {
            let hasher = PasswordHasher::new(&PasswordConfig {
                memory_kib,
                iterations,
            })
            .unwrap();
            let phc = hasher.hash("correct horse").unwrap();
            let time = |stored: Option<&str>| {
                assert!(!hasher.verify("wrong horse", stored));
                let started = std::time::Instant::now();
                assert!(!hasher.verify("wrong horse", stored));
                started.elapsed()
            };
            let (mut known, mut unknown) = (Vec::new(), Vec::new());
            for _ in 0..7 {
                known.push(time(Some(&phc)));
                unknown.push(time(None));
            }
            known.sort();
            unknown.sort();
            let (known, unknown) = (known[3].as_secs_f64(), unknown[3].as_secs_f64());
            let ratio = unknown / known;
            assert!(
                (0.75..=1.25).contains(&ratio),
                "m={memory_kib} t={iterations}: unknown {unknown:.4} s, known {known:.4} s"
            );
        }
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
