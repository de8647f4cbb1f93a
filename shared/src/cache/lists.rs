//! List pages in Redis: each stored with its entity tag and the generation it was computed under
//! (every page's epoch and its [scope](super::scopes)'s); a write bumps the generations of the
//! scopes it can change, retiring their pages and no others.

use std::time::Duration;

use bytes::Bytes;

use uuid::Uuid;

use super::keys::jittered;
use super::{scopes, CacheError, CacheService, Lease, Lookup};
use crate::domain::{etag, ListQuery};

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

/// The generations a page was computed under: every page's (the epoch) and its scope's, as
/// `"<epoch>.<scope generation>"`. A cached page is current while both are unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageGeneration(String);

impl PageGeneration {
    /// The generation of the epoch and scope values read, if both are present.
    fn of(values: Vec<Option<String>>) -> Option<Self> {
        let values: Option<Vec<String>> = values.into_iter().collect();
        values.filter(|v| v.len() == 2).map(|v| Self(v.join(".")))
    }
}

/// A list entry as stored: the generation it was computed under, a newline, then the page (or
/// the too-broad answer).
fn encode_entry(generation: &PageGeneration, entry: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(generation.0.len() + 1 + entry.len());
    value.extend_from_slice(generation.0.as_bytes());
    value.push(b'\n');
    value.extend_from_slice(entry);
    value
}

/// The entry stored in `value` if it was computed under `generation`; a value computed under
/// another one, or that does not decode (written by an older version, say), is a miss.
fn current_entry(value: Bytes, generation: &PageGeneration) -> Lookup<CachedList> {
    let Some(newline) = value.iter().position(|&b| b == b'\n') else {
        return Lookup::Miss;
    };
    if &value[..newline] != generation.0.as_bytes() {
        return Lookup::Miss;
    }
    let entry = value.slice(newline + 1..);
    if entry.as_ref() == TOO_BROAD {
        return Lookup::Hit(CachedList::TooBroad);
    }
    CachedPage::decode(entry).map_or(Lookup::Miss, |page| Lookup::Hit(CachedList::Page(page)))
}

impl CacheService {
    /// The cached entry for `query` if it is current. Its generations (`MGET`) and the page
    /// (`GET`) are asked for at once: two read-only commands, one round trip, answered also
    /// while Redis refuses writes.
    pub async fn get_list(&self, query: &ListQuery) -> Lookup<CachedList> {
        let keys = self.generation_keys(query);
        let generations = self.run("get_list_generation", |mut c| async move {
            redis::cmd("MGET")
                .arg(&keys)
                .query_async::<Vec<Option<String>>>(&mut c)
                .await
        });
        let page = self.get_bytes(self.inner.keys.list_page(query), "get_list");
        let (generations, page) = tokio::join!(generations, page);
        let Ok(generations) = generations else {
            return Lookup::Unavailable;
        };
        match (page, PageGeneration::of(generations)) {
            (Lookup::Hit(value), Some(current)) => current_entry(value, &current),
            (Lookup::Unavailable, _) => Lookup::Unavailable,
            // An absent generation has no page stored under it.
            _ => Lookup::Miss,
        }
    }

    /// The generation a fill of `query` must be stored under, read before the database; `None`
    /// when Redis is unavailable. Creates an absent generation and renews the lifetime of both:
    /// a scope's pages are filled at least once per page TTL, so a scope in use never expires.
    pub async fn list_generation(&self, query: &ListQuery) -> Option<PageGeneration> {
        let keys = self.generation_keys(query);
        let ttl = generation_ttl(&self.inner.config).as_millis() as u64;
        let script = &self.inner.read_generations;
        let values = self
            .run("get_list_generation", |mut c| async move {
                script
                    .key(&keys[0])
                    .key(&keys[1])
                    .arg(ttl)
                    .invoke_async::<Vec<String>>(&mut c)
                    .await
            })
            .await
            .ok()?;
        PageGeneration::of(values.into_iter().map(Some).collect())
    }

    /// The epoch's key and that of the scope of `query`'s pages.
    fn generation_keys(&self, query: &ListQuery) -> [String; 2] {
        [
            self.inner.keys.list_epoch(),
            self.inner.keys.list_generation(&scopes::of_page(query)),
        ]
    }

    /// Takes the fill lease of the page for `query` after a miss.
    pub async fn lease_list(&self, query: &ListQuery) -> Lease {
        self.lease(self.inner.keys.list_lease(query)).await
    }

    /// Waits, up to the lease wait, for another reader to fill the entry for `query` under
    /// `generation`.
    pub async fn await_list(
        &self,
        generation: &PageGeneration,
        query: &ListQuery,
    ) -> Option<CachedList> {
        self.await_fill(|| async {
            match self
                .get_bytes(self.inner.keys.list_page(query), "get_list")
                .await
            {
                Lookup::Hit(value) => current_entry(value, generation),
                Lookup::Miss => Lookup::Miss,
                Lookup::Unavailable => Lookup::Unavailable,
            }
        })
        .await
    }

    /// Caches the page for `query` under `generation` (read before the database query, so a
    /// page computed before a write is stored under a generation that write already retired)
    /// and releases the page's fill lease, in one round trip.
    pub async fn set_list(
        &self,
        generation: &PageGeneration,
        query: &ListQuery,
        page: &CachedPage,
    ) {
        let ttl = jittered(self.inner.config.list_ttl);
        self.store_list(query, encode_entry(generation, &page.encode()), ttl)
            .await;
    }

    /// Remembers that `query` is too broad to answer, as [`set_list`](Self::set_list) stores a
    /// page (for at most [`TOO_BROAD_TTL`]).
    pub async fn set_list_too_broad(&self, generation: &PageGeneration, query: &ListQuery) {
        let ttl = self.inner.config.list_ttl.min(TOO_BROAD_TTL);
        self.store_list(query, encode_entry(generation, TOO_BROAD), ttl)
            .await;
    }

    async fn store_list(&self, query: &ListQuery, value: Vec<u8>, ttl: Duration) {
        let key = self.inner.keys.list_page(query);
        let lease = self.inner.keys.list_lease(query);
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

    /// Retires the pages of `scopes` (every page when `None`), recording `writes` as applied:
    /// one script call.
    pub async fn retire_lists(
        &self,
        scopes: Option<&[String]>,
        writes: &[Uuid],
    ) -> Result<(), CacheError> {
        let keys = &self.inner.keys;
        let generations: Vec<String> = match scopes {
            Some(scopes) => scopes.iter().map(|s| keys.list_generation(s)).collect(),
            None => vec![keys.list_epoch()],
        };
        let config = &self.inner.config;
        let mut invocation = self.inner.bump_generations.prepare_invoke();
        invocation
            .key(keys.applied_evidence())
            .arg(generation_ttl(config).as_millis() as u64)
            .arg(EVIDENCE_TTL.as_millis() as u64);
        for generation in &generations {
            invocation.key(generation);
        }
        for write in writes {
            invocation.arg(write.to_string());
        }
        self.run("retire_lists", |mut c| async move {
            invocation.invoke_async::<i64>(&mut c).await
        })
        .await
        .map(drop)
    }
}

/// How long a list generation lives unread and unbumped: past the life of every page stored
/// under it (a page's TTL, jittered by up to 10 %), so the generation a page was stored under is
/// there as long as the page.
fn generation_ttl(config: &crate::config::CacheConfig) -> Duration {
    config.list_ttl * 2 + Duration::from_secs(60)
}

/// How long the evidence of applied writes is kept without the sweeper checking it: past that,
/// the sweeper finds it missing and applies those writes again (harmless, only costly).
const EVIDENCE_TTL: Duration = Duration::from_secs(24 * 3600);
