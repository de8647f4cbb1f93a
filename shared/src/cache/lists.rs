//! List pages in Redis: each stored with its entity tag under the current list generation, which
//! a write bumps to retire every page at once.

use std::time::Duration;

use bytes::Bytes;

use super::keys::jittered;
use super::{CacheError, CacheService, Lease, Lookup};
use crate::domain::{etag, ListQuery, Timestamp};

/// A list page as cached: the exact JSON of the response and its entity tag, computed once when
/// the page was built so a hit never hashes the body again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedPage {
    /// The page's strong entity tag, quoted: an MD5 digest of the body.
    pub etag: String,
    /// The response body.
    pub body: Bytes,
}

impl CachedPage {
    /// A page of `body`, tagged with its digest.
    pub fn new(body: Bytes) -> Self {
        Self {
            etag: etag::of_page(&body),
            body,
        }
    }

    /// Stored form: the entity tag, a newline, then the JSON.
    fn encode(&self) -> Vec<u8> {
        let mut value = Vec::with_capacity(self.etag.len() + 1 + self.body.len());
        value.extend_from_slice(self.etag.as_bytes());
        value.push(b'\n');
        value.extend_from_slice(&self.body);
        value
    }

    fn decode(value: Bytes) -> Option<Self> {
        let newline = value.iter().position(|&b| b == b'\n')?;
        let etag = std::str::from_utf8(&value[..newline]).ok()?;
        if !(etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"')) {
            return None;
        }
        Some(Self {
            etag: etag.to_owned(),
            body: value.slice(newline + 1..),
        })
    }
}

/// A list query's entry in the cache: its page, or the remembered answer that the query is too
/// broad for the database's time limit (so a repeat costs no statement).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CachedList {
    /// The page.
    Page(CachedPage),
    /// The query reads too much of the catalogue.
    TooBroad,
}

/// How a too-broad answer is stored (never a page: a page starts with its quoted entity tag).
const TOO_BROAD: &[u8] = b"!too-broad";

/// How long a too-broad answer is remembered at most: long enough that repeating the query costs
/// nothing, short enough that a catalogue that shrank answers it again.
const TOO_BROAD_TTL: Duration = Duration::from_secs(60);

/// A list lookup from the stored bytes; a value that does not decode (written by an older
/// version, say) is a miss.
fn list_lookup(lookup: Lookup<Bytes>) -> Lookup<CachedList> {
    match lookup {
        Lookup::Hit(value) if value.as_ref() == TOO_BROAD => Lookup::Hit(CachedList::TooBroad),
        Lookup::Hit(value) => CachedPage::decode(value)
            .map_or(Lookup::Miss, |page| Lookup::Hit(CachedList::Page(page))),
        Lookup::Miss => Lookup::Miss,
        Lookup::Unavailable => Lookup::Unavailable,
    }
}

impl CacheService {
    /// The current list generation, or `None` when Redis is unavailable.
    pub async fn list_generation(&self) -> Option<u64> {
        let key = self.inner.keys.list_generation();
        let now = Timestamp::now().millis();
        let script = &self.inner.generation;
        self.run("get_list_generation", |mut c| async move {
            script.key(&key).arg(now).invoke_async::<u64>(&mut c).await
        })
        .await
        .ok()
    }

    /// The cached entry for `query` in `generation`.
    pub async fn get_list(&self, generation: u64, query: &ListQuery) -> Lookup<CachedList> {
        let key = self.inner.keys.list_page(generation, query);
        list_lookup(self.get_bytes(key, "get_list").await)
    }

    /// Takes the fill lease of the page for `query` in `generation` after a miss.
    pub async fn lease_list(&self, generation: u64, query: &ListQuery) -> Lease {
        self.lease(self.inner.keys.list_lease(generation, query))
            .await
    }

    /// Waits, up to the lease wait, for another reader to fill the entry for `query`.
    pub async fn await_list(&self, generation: u64, query: &ListQuery) -> Option<CachedList> {
        self.await_fill(|| self.get_list(generation, query)).await
    }

    /// Caches the page for `query` under `generation` (read before the database query, so a page
    /// computed before a write lands in a generation nobody reads any more) and releases the
    /// page's fill lease, in one round trip.
    pub async fn set_list(&self, generation: u64, query: &ListQuery, page: &CachedPage) {
        let ttl = jittered(self.inner.config.list_ttl);
        self.store_list(generation, query, page.encode(), ttl).await;
    }

    /// Remembers that `query` is too broad to answer, as [`set_list`](Self::set_list) stores a
    /// page (for at most [`TOO_BROAD_TTL`]).
    pub async fn set_list_too_broad(&self, generation: u64, query: &ListQuery) {
        let ttl = self.inner.config.list_ttl.min(TOO_BROAD_TTL);
        self.store_list(generation, query, TOO_BROAD.to_vec(), ttl)
            .await;
    }

    async fn store_list(&self, generation: u64, query: &ListQuery, value: Vec<u8>, ttl: Duration) {
        let key = self.inner.keys.list_page(generation, query);
        let lease = self.inner.keys.list_lease(generation, query);
        let ttl = ttl.as_secs().max(1);
        let _ = self
            .run("set_list", |mut c| async move {
                redis::pipe()
                    .cmd("SET")
                    .arg(&key)
                    .arg(&value)
                    .arg("EX")
                    .arg(ttl)
                    .ignore()
                    .cmd("DEL")
                    .arg(&lease)
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await
            })
            .await;
    }

    /// Invalidates every cached list page at once by bumping the generation (one script call).
    pub async fn invalidate_lists(&self) -> Result<(), CacheError> {
        let key = self.inner.keys.list_generation();
        let now = Timestamp::now().millis();
        let script = &self.inner.bump_generation;
        self.run("invalidate_lists", |mut c| async move {
            script.key(&key).arg(now).invoke_async::<u64>(&mut c).await
        })
        .await
        .map(drop)
    }
}
