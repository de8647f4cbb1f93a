//! `Idempotency-Key` (the IETF HTTPAPI draft "The Idempotency-Key HTTP Header Field"): a key a
//! client sends with a write so that repeating the request (its answer was lost, or it answered
//! 503 after committing) answers the first outcome again instead of writing twice.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The longest key accepted, in characters.
pub const MAX_KEY_LENGTH: usize = 255;

/// A write request's idempotency key, scoped to its caller, and the fingerprint of the request
/// it was first sent with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotentRequest {
    /// The caller the key belongs to (keys of different callers never meet).
    pub caller: Uuid,
    /// The key as sent (unquoted).
    pub key: String,
    /// SHA-256 (hex) of the method, path, `If-Match` and body: the same key with another
    /// request is refused.
    pub fingerprint: String,
}

impl IdempotentRequest {
    /// The key of the header value `header` for `caller`'s request: the draft's form is a
    /// Structured Field string (`"…"`, with `\"` and `\\` escapes), and a bare value is taken as
    /// it is. A key is 1 to [`MAX_KEY_LENGTH`] visible ASCII characters or spaces.
    pub fn parse(
        header: &str,
        caller: Uuid,
        request: RequestFingerprint<'_>,
    ) -> Result<Self, String> {
        let key = unquote(header.trim())?;
        if key.is_empty() || key.chars().count() > MAX_KEY_LENGTH {
            return Err(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters"
            ));
        }
        if !key.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
            return Err("Idempotency-Key may hold only visible ASCII characters and spaces".into());
        }
        Ok(Self {
            caller,
            key,
            fingerprint: request.digest(),
        })
    }
}

/// What makes two requests with one key the same request.
#[derive(Clone, Copy, Debug)]
pub struct RequestFingerprint<'a> {
    /// `POST`, `PATCH` or `DELETE`.
    pub method: &'a str,
    /// The path (which names the tool).
    pub path: &'a str,
    /// The `If-Match` header, if sent.
    pub if_match: Option<&'a str>,
    /// The body as parsed (`None` without one).
    pub body: Option<&'a serde_json::Value>,
}

impl RequestFingerprint<'_> {
    fn digest(&self) -> String {
        let mut hash = Sha256::new();
        for part in [self.method, self.path, self.if_match.unwrap_or("")] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        if let Some(body) = self.body {
            hash.update(body.to_string().as_bytes());
        }
        hex::encode(hash.finalize())
    }
}

/// The content of a Structured Field string, or `value` itself when it is not quoted.
fn unquote(value: &str) -> Result<String, String> {
    let Some(inner) = value.strip_prefix('"') else {
        return Ok(value.to_owned());
    };
    let inner = inner
        .strip_suffix('"')
        .ok_or("Idempotency-Key: an unterminated string")?;
    let mut key = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped @ ('"' | '\\')) => key.push(escaped),
                _ => return Err("Idempotency-Key: only \\\" and \\\\ may be escaped".into()),
            },
            '"' => return Err("Idempotency-Key: a quote inside the string".into()),
            c => key.push(c),
        }
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request<'a>(body: Option<&'a serde_json::Value>) -> RequestFingerprint<'a> {
        RequestFingerprint {
            method: "POST",
            path: "/tools",
            if_match: None,
            body,
        }
    }

    #[test]
    fn keys_are_structured_strings_or_bare_values() {
        let caller = Uuid::now_v7();
        let parse = |h: &str| IdempotentRequest::parse(h, caller, request(None)).map(|r| r.key);
        assert_eq!(parse("\"8e03978e-40d5\"").unwrap(), "8e03978e-40d5");
        assert_eq!(parse("plain-key").unwrap(), "plain-key");
        assert_eq!(
            parse(r#""a \"quoted\" \\ key""#).unwrap(),
            r#"a "quoted" \ key"#
        );
        assert_eq!(parse(&"k".repeat(255)).unwrap().len(), 255);
        for bad in [
            "",
            "\"\"",
            "\"open",
            "\"a\"b\"",
            &"k".repeat(256),
            "naïve",
            "tab\there",
            "\"\\n\"",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_fingerprint_follows_the_request() {
        let caller = Uuid::now_v7();
        let body = json!({"name": "a"});
        let other = json!({"name": "b"});
        let print = |r: RequestFingerprint<'_>| {
            IdempotentRequest::parse("k", caller, r)
                .unwrap()
                .fingerprint
        };
        assert_eq!(print(request(Some(&body))), print(request(Some(&body))));
        assert_ne!(print(request(Some(&body))), print(request(Some(&other))));
        assert_ne!(
            print(request(Some(&body))),
            print(RequestFingerprint {
                method: "PATCH",
                ..request(Some(&body))
            })
        );
        assert_ne!(
            print(request(None)),
            print(RequestFingerprint {
                if_match: Some("\"r1\""),
                ..request(None)
            })
        );
    }
}
