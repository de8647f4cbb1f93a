//! Device tokens (OWASP's "device cookies"): a successful login hands the client a token for that
//! account, which it shows at its next logins. A login with a valid one counts its failures
//! against that device alone, not against the account's limit on guesses from unknown places,
//! so strangers who exhaust that limit never lock the owner out of a device they logged in from.
//!
//! Stateless: a token is its issue time and a random device id, MACed together with the account
//! it was issued for (the account's digest, as the throttle knows it), so it proves nothing for
//! another account, and checking it costs no statement and the same work for every email.

use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::domain::Timestamp;

/// Bytes of a token: issue time (8), device id (16), truncated MAC (16).
const TOKEN_BYTES: usize = 40;

/// Tokens issued this far in the future (another instance's clock) still count.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Issues and checks device tokens.
#[derive(Clone)]
pub(super) struct DeviceKey(Hmac<Sha256>);

impl DeviceKey {
    pub(super) fn new(secret: &[u8]) -> Self {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
        // Domain separation: this key vouches for devices, nothing else.
        mac.update(b"mcp-registry device token\0");
        Self(mac)
    }

    fn mac(&self, account: &str, issued: &[u8], device: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.0.clone();
        mac.update(account.as_bytes());
        mac.update(&[0]);
        mac.update(issued);
        mac.update(device);
        mac
    }

    /// A new device's token for `account` (a login digest), issued `now`.
    pub(super) fn issue(&self, account: &str, now: Timestamp) -> String {
        let issued = now.millis().to_be_bytes();
        let mut device = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut device);
        let tag = self.mac(account, &issued, &device).finalize().into_bytes();
        let mut token = Vec::with_capacity(TOKEN_BYTES);
        token.extend_from_slice(&issued);
        token.extend_from_slice(&device);
        token.extend_from_slice(&tag[..16]);
        URL_SAFE_NO_PAD.encode(token)
    }

    /// The device's id (hex) if `token` was issued for `account` no longer than `ttl` before
    /// `now`; `None` for anything else, which counts as an unknown place.
    pub(super) fn verify(
        &self,
        token: &str,
        account: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Option<String> {
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        if bytes.len() != TOKEN_BYTES {
            return None;
        }
        let (issued, rest) = bytes.split_at(8);
        let (device, tag) = rest.split_at(16);
        self.mac(account, issued, device)
            .verify_truncated_left(tag)
            .ok()?;
        let issued = Timestamp::from_millis(i64::from_be_bytes(issued.try_into().ok()?));
        let fresh = issued <= now.plus(CLOCK_SKEW) && now.since(issued) <= ttl;
        fresh.then(|| hex::encode(device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn a_token_vouches_for_its_device_on_its_account_only_while_fresh() {
        let key = DeviceKey::new(b"a key of at least thirty-two bytes, say");
        let now = Timestamp::now();
        let token = key.issue("account-a", now);
        let device = key.verify(&token, "account-a", now, DAY).expect("valid");
        assert_eq!(device.len(), 32);
        assert_eq!(
            key.verify(&token, "account-a", now.plus(DAY), DAY),
            Some(device)
        );
        assert_eq!(
            key.verify(&token, "account-b", now, DAY),
            None,
            "bound to its account"
        );
        let later = now.plus(DAY + Duration::from_secs(1));
        assert_eq!(key.verify(&token, "account-a", later, DAY), None, "expired");
        let other = DeviceKey::new(b"another key of at least thirty-two bytes");
        assert_eq!(other.verify(&token, "account-a", now, DAY), None, "keyed");
        assert_ne!(key.issue("account-a", now), token, "each device its own");
        let mut tampered = URL_SAFE_NO_PAD.decode(&token).unwrap();
        tampered[10] ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(tampered);
        assert_eq!(key.verify(&tampered, "account-a", now, DAY), None);
        for junk in ["", "!", "AAAA", &token[1..]] {
            assert_eq!(key.verify(junk, "account-a", now, DAY), None, "{junk}");
        }
    }
}
