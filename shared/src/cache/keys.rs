//! Cache key generation and TTLs: the one place that knows the shapes of Redis keys.
//!
//! | data | key |
//! |---|---|
//! | one tool | `<prefix>:tool:{<id>}` |
//! | a tool's write marker | `<prefix>:tool:{<id>}:rev` |
//! | a tool's fill lease | `<prefix>:tool:{<id>}:lease` |
//! | a list page (its generations, its ETag, then its JSON) | `<prefix>:tools:pages:{<md5 of the canonical query>}` |
//! | a list page's fill lease | `<prefix>:tools:pages:{<md5>}:lease` |
//! | a list scope's generation ([`scopes`](super::scopes)) | `<prefix>:lists:{gen}:<scope>` |
//! | the generation of every page | `<prefix>:lists:{gen}:epoch` |
//! | the outbox position Redis is known to reflect | `<prefix>:lists:{gen}:applied` |
//! | writes applied past that position | `<prefix>:lists:{gen}:evidence` |
//! | writes begun (each writer's check-in, before its transaction) | `<prefix>:lists:{gen}:writes-begun` |
//! | writes begun as of the sweeper's last drain that left nothing | `<prefix>:lists:{gen}:writes-swept` |
//! | session | `<prefix>:session:<session id>` |
//! | login / registration attempts | `<prefix>:attempts:<kind>:<digest>` |
//!
//! The braces are literal: a Redis Cluster (and ElastiCache Serverless) puts a key in the
//! slot of its *hash tag*, the text between its first `{` and the next `}`, and a script or a
//! pipeline with a transaction may only touch keys of one slot. So the keys one operation touches
//! together share a tag: a tool with its write marker and its lease (the guarded fill), a list
//! page with its lease (set and release in one round trip), and every list generation with the
//! watermark and its evidence (`{gen}`: a write's bumps, and the sweeper's check that they are
//! all there, are each one script). Every other operation touches one key. Tools and pages are
//! tagged by ids and digests, so they spread over every shard; the generations are a few small
//! keys, each read once per list request, as the one generation key of earlier versions was.

use std::time::Duration;

use md5::{Digest, Md5};
use rand::Rng;
use uuid::Uuid;

use crate::domain::ListQuery;

/// Builds every Redis key of one deployment (all share `prefix`).
#[derive(Clone, Debug)]
pub struct CacheKeys {
    prefix: String,
}

impl CacheKeys {
    /// Keys under `prefix` (e.g. `mcp`).
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The cached JSON of one tool.
    pub fn tool(&self, id: Uuid) -> String {
        format!("{}:tool:{}", self.prefix, tool_tag(id))
    }

    /// The short-lived marker a writer leaves with the newest revision of a tool, so a reader that
    /// loaded an older revision before the write cannot put it back into the cache.
    pub fn tool_write_marker(&self, id: Uuid) -> String {
        format!("{}:tool:{}:rev", self.prefix, tool_tag(id))
    }

    /// The lease a reader takes on a miss of tool `id`, so one reader across the fleet fills it.
    pub fn tool_lease(&self, id: Uuid) -> String {
        format!("{}:tool:{}:lease", self.prefix, tool_tag(id))
    }

    /// The generation of list scope `scope`, whose increment retires the pages of that scope.
    pub fn list_generation(&self, scope: &str) -> String {
        format!("{}:lists:{{gen}}:{scope}", self.prefix)
    }

    /// The generation every page is stored under besides its scope's: its increment retires
    /// every page at once.
    pub fn list_epoch(&self) -> String {
        format!("{}:lists:{{gen}}:epoch", self.prefix)
    }

    /// The outbox position through which every invalidation is known to be in this Redis.
    pub fn applied_watermark(&self) -> String {
        format!("{}:lists:{{gen}}:applied", self.prefix)
    }

    /// The ids of the writes whose list invalidations were applied past the watermark.
    pub fn applied_evidence(&self) -> String {
        format!("{}:lists:{{gen}}:evidence", self.prefix)
    }

    /// How many writes began: each writer counts itself in before its transaction, so a quiet
    /// sweeper learns from Redis alone that the database may hold something new.
    pub fn writes_begun(&self) -> String {
        format!("{}:lists:{{gen}}:writes-begun", self.prefix)
    }

    /// The writes-begun count as of the sweeper's last drain that left nothing to apply.
    pub fn writes_swept(&self) -> String {
        format!("{}:lists:{{gen}}:writes-swept", self.prefix)
    }

    /// Who drains the outbox now: the cache sweeper run holding it.
    pub fn sweeper_lease(&self) -> String {
        format!("{}:sweeper:lease", self.prefix)
    }

    /// The cached page of `query`. (`tools:pages`, not the `tools:page` of the pages stored
    /// under one generation by earlier versions: a function of either version, during a
    /// deployment, never reads the other's format.)
    pub fn list_page(&self, query: &ListQuery) -> String {
        format!("{}:tools:pages:{{{}}}", self.prefix, query_digest(query))
    }

    /// The lease a reader takes on a miss of a list page.
    pub fn list_lease(&self, query: &ListQuery) -> String {
        format!("{}:lease", self.list_page(query))
    }

    /// A session's cached record.
    pub fn session(&self, session_id: Uuid) -> String {
        format!("{}:session:{}", self.prefix, session_id.hyphenated())
    }

    /// The sliding window of attempts of one `kind` (`login-account`, `login-place`,
    /// `login-address`, `register-address`) by one subject, named by a digest (never an email or an address).
    pub fn attempts(&self, kind: &str, subject_digest: &str) -> String {
        format!("{}:attempts:{kind}:{subject_digest}", self.prefix)
    }
}

/// The hash tag of the keys of tool `id`: `{id}`.
fn tool_tag(id: Uuid) -> String {
    format!("{{{}}}", id.hyphenated())
}

/// The hex MD5 of the canonical form of `query`: equal for equivalent queries.
pub fn query_digest(query: &ListQuery) -> String {
    hex::encode(Md5::digest(query.canonical().as_bytes()))
}

/// `ttl` spread uniformly over ±10 %, so entries written together do not expire together.
pub fn jittered(ttl: Duration) -> Duration {
    let secs = ttl.as_secs_f64();
    if secs <= 0.0 {
        return ttl;
    }
    let factor = rand::thread_rng().gen_range(0.9..=1.1);
    Duration::from_secs_f64(secs * factor).max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shapes_follow_the_table() {
        let keys = CacheKeys::new("mcp");
        let id = Uuid::nil();
        let tool = "mcp:tool:{00000000-0000-0000-0000-000000000000}";
        assert_eq!(keys.tool(id), tool);
        assert_eq!(keys.tool_write_marker(id), format!("{tool}:rev"));
        assert_eq!(keys.tool_lease(id), format!("{tool}:lease"));
        assert_eq!(keys.list_generation("tag:x"), "mcp:lists:{gen}:tag:x");
        assert_eq!(keys.list_epoch(), "mcp:lists:{gen}:epoch");
        assert_eq!(keys.applied_watermark(), "mcp:lists:{gen}:applied");
        assert_eq!(keys.applied_evidence(), "mcp:lists:{gen}:evidence");
        assert_eq!(keys.writes_begun(), "mcp:lists:{gen}:writes-begun");
        assert_eq!(keys.writes_swept(), "mcp:lists:{gen}:writes-swept");
        assert_eq!(keys.sweeper_lease(), "mcp:sweeper:lease");
        let page = keys.list_page(&ListQuery::default());
        let digest = query_digest(&ListQuery::default());
        assert_eq!(page, format!("mcp:tools:pages:{{{digest}}}"));
        assert_eq!(
            keys.list_lease(&ListQuery::default()),
            format!("{page}:lease")
        );
    }

    /// The text Redis Cluster hashes for `key` (its first `{…}` with something inside, else all).
    fn hash_tag(key: &str) -> &str {
        key.find('{')
            .and_then(|open| {
                let close = open + 1 + key[open + 1..].find('}')?;
                (close > open + 1).then(|| &key[open + 1..close])
            })
            .unwrap_or(key)
    }

    #[test]
    fn keys_used_together_share_a_hash_tag_and_others_spread() {
        let keys = CacheKeys::new("mcp");
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let tool = hash_tag(&keys.tool(a)).to_owned();
        assert_eq!(tool, a.hyphenated().to_string());
        assert_eq!(hash_tag(&keys.tool_write_marker(a)), tool);
        assert_eq!(hash_tag(&keys.tool_lease(a)), tool);
        assert_ne!(
            hash_tag(&keys.tool(b)),
            tool,
            "each tool has a slot of its own"
        );

        let query = ListQuery::default();
        let page = hash_tag(&keys.list_page(&query)).to_owned();
        assert_eq!(hash_tag(&keys.list_lease(&query)), page);
        let other = ListQuery {
            limit: 7,
            ..ListQuery::default()
        };
        assert_ne!(hash_tag(&keys.list_page(&other)), page, "pages spread");

        let generations = hash_tag(&keys.list_epoch()).to_owned();
        for key in [
            keys.list_generation("all"),
            keys.list_generation("category:search"),
            keys.applied_watermark(),
            keys.applied_evidence(),
            keys.writes_begun(),
            keys.writes_swept(),
        ] {
            assert_eq!(hash_tag(&key), generations, "{key}");
        }
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..1000 {
            let ttl = jittered(Duration::from_secs(3600)).as_secs_f64();
            assert!((3240.0..=3960.0).contains(&ttl), "{ttl}");
        }
    }
}
