//! `ToolService`: read-through caching of tools and list pages, and writes that commit the row
//! and its invalidation (the outbox) in one transaction, then apply the invalidation to Redis.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::cache::{
    scopes, CacheError, CacheService, CacheStatus, CachedList, CachedPage, CachedTool, Lease,
    Lookup,
};
use crate::domain::{
    etag, Actor, CursorCodec, FieldError, IdempotentRequest, ListItem, ListQuery, Timestamp, Tool,
    ToolChanges, DELETED_REVISION,
};
use crate::store::{
    DataApi, DataApiToolStore, Invalidation, KeyClaim, KeyedWrite, OutboxBacklog, StoreError,
    ToolStore, WriteRecord,
};

/// How often a write retries when a concurrent write changed the tool under it.
const WRITE_ATTEMPTS: usize = 5;

/// How many invalidations one replay step reads and applies (pipelined: one round trip).
const REPLAY_BATCH: u32 = 200;

/// How long marking a write's invalidation applied may take after the answer is decided; if it
/// does not finish, the sweeper applies the (harmless to repeat) invalidation again.
const MARK_APPLIED_LIMIT: Duration = Duration::from_secs(1);

/// The first pause before a failed publish is tried again; each next one doubles, up to the
/// longest. The first is short: a connection found dead is often all that failed.
const PUBLISH_RETRY_FIRST_PAUSE: Duration = Duration::from_millis(10);
const PUBLISH_RETRY_MAX_PAUSE: Duration = Duration::from_millis(250);

/// Errors of tool operations; `http` maps them to problem documents.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// No such tool.
    #[error("no tool with this id")]
    NotFound,
    /// The tool was deleted (within the tombstones' retention).
    #[error("this tool was deleted")]
    Gone,
    /// The caller may not change this tool.
    #[error("only the tool's owner or an admin may change it")]
    Forbidden,
    /// The name is taken.
    #[error("a tool named {0:?} already exists")]
    NameTaken(String),
    /// `If-Match` names another revision.
    #[error("the tool has changed since the given ETag")]
    PreconditionFailed,
    /// Concurrent writes kept changing the tool.
    #[error("the tool is being changed concurrently; retry")]
    Contention,
    /// Invalid fields in the body.
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    /// The request's `Idempotency-Key` was first sent with another request.
    #[error("this Idempotency-Key was used with another request; use a new key for a new request")]
    KeyReused,
    /// Another request with this `Idempotency-Key` is still being processed.
    #[error("a request with this Idempotency-Key is still being processed; retry shortly")]
    KeyInUse,
    /// Invalid query parameters.
    #[error("invalid query")]
    BadQuery(Vec<FieldError>),
    /// The query reads too much of the catalogue for the statement's time limit.
    #[error(
        "the query matches too much of the catalogue to answer in time; narrow it (a filter, \
         a rarer word, another order)"
    )]
    TooBroad,
    /// This client's database-bound list requests are over their budget.
    #[error("too many uncached list requests; retry later")]
    Throttled(Duration),
    /// The database is unreachable or out of time, and the cache could not answer.
    #[error("the database is unavailable")]
    Unavailable,
    /// Anything else: a server-side fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ToolError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::TimeLimit(detail) => {
                tracing::info!(%detail, "list statement stopped at its time limit");
                Self::TooBroad
            }
            StoreError::KeyInUse => Self::KeyInUse,
            other => super::store_failure(other, Self::Unavailable, Self::Internal),
        }
    }
}

/// Why a replay of pending invalidations stopped before the outbox was empty.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The outbox could not be read or updated.
    #[error("outbox: {0}")]
    Database(#[from] StoreError),
    /// Redis did not take an invalidation (it stays pending).
    #[error("cache: {0}")]
    Cache(#[from] CacheError),
}

/// A tool ready to send: its revision (for the ETag) and its JSON.
pub type ToolBody = CachedTool;

/// A committed tool write whose cache consequence is recorded in the outbox but not yet applied
/// to Redis: pass it to [`ToolService::publish`]. If the process dies first, the sweeper (or a
/// recovering instance) applies it from the outbox.
#[derive(Clone, Debug)]
#[must_use = "a committed write must be published to the cache"]
pub struct CommittedWrite {
    /// The request's write id (its outbox row).
    pub write_id: Uuid,
    /// The tool written.
    pub tool_id: Uuid,
    /// The tool as written; `None` for a delete.
    pub tool: Option<Tool>,
    /// The scopes of the list pages the write can change.
    pub scopes: Vec<String>,
    /// Whether anything was written: an update that changes no field writes nothing, so there
    /// is nothing to publish.
    pub changed: bool,
    /// When the request's database budget ends: its publish may be tried again until then.
    pub budget_ends: Instant,
}

impl CommittedWrite {
    /// An update of `tool` that changes none of its fields.
    fn unchanged(tool: Tool) -> Self {
        Self {
            write_id: Uuid::nil(),
            tool_id: tool.id,
            tool: Some(tool),
            scopes: Vec::new(),
            changed: false,
            budget_ends: Instant::now(),
        }
    }

    /// The tool a create or an update wrote.
    fn written(self) -> Result<Tool, ToolError> {
        self.tool
            .ok_or_else(|| ToolError::Internal("the write recorded no tool".into()))
    }
}

impl From<&crate::config::ThrottleConfig> for MissBudget {
    fn from(config: &crate::config::ThrottleConfig) -> Self {
        Self {
            burst: config.list_miss_burst,
            per_second: config.list_miss_rate,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Page<'a> {
    items: &'a [ListItem],
    next_cursor: Option<String>,
}

/// How many list requests the cache could not answer one source address may send: a burst,
/// refilled at a rate (a sliding window in Redis).
#[derive(Clone, Copy, Debug)]
pub struct MissBudget {
    /// Misses in a burst.
    pub burst: u32,
    /// Misses per second, sustained.
    pub per_second: u32,
}

/// The kind of the miss windows' subjects.
const LIST_MISS: &str = "list-miss";

/// Read-through cache in front of a [`ToolStore`] (the Data API's unless a test says otherwise).
pub struct ToolService<S = DataApiToolStore> {
    store: S,
    cache: CacheService,
    cursors: CursorCodec,
    request_budget: Duration,
    miss_budget: Option<MissBudget>,
    key_retention: Duration,
    tombstone_retention: Duration,
}

/// How long an idempotency key answers a repeat, unless configured.
const DEFAULT_KEY_RETENTION: Duration = Duration::from_secs(86_400);

/// How long a deleted tool's tombstone is kept, unless configured.
const DEFAULT_TOMBSTONE_RETENTION: Duration = Duration::from_secs(30 * 86_400);

impl<S: ToolStore> ToolService<S> {
    /// A service over `store` and `cache`, signing list cursors with `cursor_secret`. Each
    /// request's database work is bounded by `request_budget` (then 503).
    pub fn new(
        store: S,
        cache: CacheService,
        cursor_secret: &[u8],
        request_budget: Duration,
    ) -> Self {
        Self {
            store,
            cache,
            cursors: CursorCodec::new(cursor_secret),
            request_budget,
            miss_budget: None,
            key_retention: DEFAULT_KEY_RETENTION,
            tombstone_retention: DEFAULT_TOMBSTONE_RETENTION,
        }
    }

    /// Keeps idempotency keys for `keys` (`IDEMPOTENCY_KEY_TTL_SECS`) and deleted tools'
    /// tombstones for `tombstones` (`TOMBSTONE_RETENTION_SECS`).
    pub fn with_retention(mut self, keys: Duration, tombstones: Duration) -> Self {
        self.key_retention = keys;
        self.tombstone_retention = tombstones;
        self
    }

    /// Limits each source address's list requests that reach the database to `budget`.
    pub fn with_miss_budget(mut self, budget: MissBudget) -> Self {
        self.miss_budget = Some(budget);
        self
    }

    /// The cache in use.
    pub fn cache(&self) -> &CacheService {
        &self.cache
    }

    /// The store in use.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// One tool: from Redis when cached, else from the database (then cached, guarded against
    /// overwriting a newer revision). On a miss, one reader across the fleet takes the key's lease
    /// and reads the database; the others wait briefly for its fill.
    pub async fn get(&self, id: Uuid) -> Result<(ToolBody, CacheStatus), ToolError> {
        let deadline = self.deadline();
        let status = match self.cache.get_tool(id).await {
            Lookup::Hit(tool) => return present(tool, CacheStatus::Hit),
            Lookup::Miss => CacheStatus::Miss,
            Lookup::Unavailable => CacheStatus::Bypass,
        };
        if status == CacheStatus::Miss && self.cache.lease_tool(id).await == Lease::Held {
            if let Some(tool) = self.cache.await_tool(id).await {
                return present(tool, CacheStatus::Hit);
            }
        }
        let read_at = Timestamp::now();
        let Some(tool) = self.within(deadline, self.store.get(id)).await? else {
            return Err(self.absent(id, status, read_at, deadline).await?);
        };
        let body = to_json(&tool)?;
        if status == CacheStatus::Miss {
            self.cache
                .fill_tool(id, tool.revision, &body, read_at)
                .await;
        }
        Ok((
            CachedTool {
                revision: tool.revision,
                body: Bytes::from(body),
            },
            status,
        ))
    }

    /// Why the tool `id`, which the database does not hold, cannot be read: deleted within the
    /// tombstones' retention (410) or unknown (404). Cached like the tool would be.
    async fn absent(
        &self,
        id: Uuid,
        status: CacheStatus,
        read_at: Timestamp,
        deadline: Instant,
    ) -> Result<ToolError, ToolError> {
        let deleted = self
            .within(
                deadline,
                self.store.deleted_at(id, self.tombstone_retention),
            )
            .await?
            .is_some();
        if status == CacheStatus::Miss {
            if deleted {
                self.cache.fill_deleted_tool(id, read_at).await;
            } else {
                self.cache.fill_absent_tool(id, read_at).await;
            }
        }
        Ok(if deleted {
            ToolError::Gone
        } else {
            ToolError::NotFound
        })
    }

    /// One page of a list for a client at `address`: its response JSON and entity tag. A miss
    /// counts against the address's miss budget; a hit never does, nor anything while Redis is
    /// unavailable.
    pub async fn list(
        &self,
        query: &ListQuery,
        address: Option<&str>,
    ) -> Result<(CachedPage, CacheStatus), ToolError> {
        let deadline = self.deadline();
        let generation = match self.cache.get_list(query).await {
            Lookup::Hit(entry) => return cached_list(entry),
            // The generation is read before the database, so a page computed from data older
            // than a concurrent write is stored under a generation that write already retired.
            Lookup::Miss => self.cache.list_generation(query).await,
            Lookup::Unavailable => None,
        };
        let status = if generation.is_some() {
            CacheStatus::Miss
        } else {
            CacheStatus::Bypass
        };
        if let Some(generation) = &generation {
            if self.cache.lease_list(query).await == Lease::Held {
                if let Some(entry) = self.cache.await_list(generation, query).await {
                    return cached_list(entry);
                }
            }
        }
        let after = self
            .cursors
            .decode(query)
            .map_err(|e| ToolError::BadQuery(vec![e]))?;
        if status == CacheStatus::Miss {
            if let Some(wait) = self.admit_miss(address).await {
                return Err(ToolError::Throttled(wait));
            }
        }
        let listed = self
            .within(
                deadline,
                self.store.list(query, after.as_ref(), query.limit),
            )
            .await;
        let page = match (listed, &generation) {
            (Err(ToolError::TooBroad), Some(generation)) => {
                self.cache.set_list_too_broad(generation, query).await;
                return Err(ToolError::TooBroad);
            }
            (listed, _) => listed?,
        };
        let items = page.items;
        let next_cursor = page.next.map(|next| self.cursors.encode(query, next));
        let page = CachedPage::new(Bytes::from(to_json(&Page {
            items: &items,
            next_cursor,
        })?));
        if let Some(generation) = &generation {
            self.cache.set_list(generation, query, &page).await;
        }
        Ok((page, status))
    }

    /// Counts a list miss of `address` in its window; `Some(wait)` when the window is full.
    /// Redis failing refuses nothing.
    async fn admit_miss(&self, address: Option<&str>) -> Option<Duration> {
        let budget = self.miss_budget?;
        let window = Duration::from_millis(
            u64::from(budget.burst) * 1000 / u64::from(budget.per_second.max(1)),
        );
        let key = self.cache.keys().attempts(
            LIST_MISS,
            &super::subject(LIST_MISS, super::address(address)),
        );
        let attempt = Uuid::new_v4().simple().to_string();
        self.cache
            .count_attempt(key, window, budget.burst, &attempt)
            .await
            .ok()
            .flatten()
    }

    /// Creates a tool owned by `actor`, then updates the cache. With `key`, a repeat of the
    /// request answers the tool its first run created.
    pub async fn create(
        &self,
        actor: &Actor,
        body: &Value,
        key: Option<&IdempotentRequest>,
    ) -> Result<Tool, ToolError> {
        if let Some(first) = self.first_answer(key).await? {
            return answered_tool(first);
        }
        let write = self.commit_create(actor, body, key).await?;
        self.publish(&write).await;
        write.written()
    }

    /// Applies a partial update to the tool `id` for `actor`, optionally only if its ETag is
    /// still `if_match`, then updates the cache. With `key`, a repeat answers the first run's.
    pub async fn update(
        &self,
        actor: &Actor,
        id: Uuid,
        body: &Value,
        if_match: Option<&str>,
        key: Option<&IdempotentRequest>,
    ) -> Result<Tool, ToolError> {
        if let Some(first) = self.first_answer(key).await? {
            return answered_tool(first);
        }
        let write = self.commit_update(actor, id, body, if_match, key).await?;
        self.publish(&write).await;
        write.written()
    }

    /// Deletes the tool `id` for `actor`, then updates the cache. With `key`, a repeat answers
    /// as the first run did (204), whatever happened since.
    pub async fn delete(
        &self,
        actor: &Actor,
        id: Uuid,
        key: Option<&IdempotentRequest>,
    ) -> Result<(), ToolError> {
        if self.first_answer(key).await?.is_some() {
            return Ok(());
        }
        let write = self.commit_delete(actor, id, key).await?;
        self.publish(&write).await;
        Ok(())
    }

    /// The committed write `key` was first sent with, if any: `KeyReused` when that was another
    /// request. Only a committed write records its key, so a request that failed (or wrote
    /// nothing) runs again.
    async fn first_answer(
        &self,
        key: Option<&IdempotentRequest>,
    ) -> Result<Option<KeyedWrite>, ToolError> {
        let Some(key) = key else {
            return Ok(None);
        };
        let found = self
            .within(
                self.deadline(),
                self.store
                    .keyed_write(key.caller, &key.key, self.key_retention),
            )
            .await?;
        match found {
            Some(first) if first.fingerprint != key.fingerprint => Err(ToolError::KeyReused),
            found => Ok(found),
        }
    }

    /// What a write with `key` claims in its transaction, answering with `tool`.
    fn claim<'a>(
        &self,
        key: Option<&'a IdempotentRequest>,
        answer: Option<&'a str>,
    ) -> Option<KeyClaim<'a>> {
        key.map(|request| KeyClaim {
            request,
            answer,
            retention: self.key_retention,
        })
    }

    /// Deletes idempotency keys and tombstones past their retention (up to 1,000 of each);
    /// returns how many of each.
    pub async fn prune_retained(&self) -> Result<(i64, i64), StoreError> {
        let keys = self.store.prune_keys(self.key_retention).await?;
        let tombstones = self
            .store
            .prune_tombstones(self.tombstone_retention)
            .await?;
        Ok((keys, tombstones))
    }

    /// The database half of [`create`](Self::create): the row and its invalidation, committed.
    pub async fn commit_create(
        &self,
        actor: &Actor,
        body: &Value,
        key: Option<&IdempotentRequest>,
    ) -> Result<CommittedWrite, ToolError> {
        let changes = ToolChanges::for_create(body).map_err(ToolError::Invalid)?;
        let tool = changes.into_new_tool(Uuid::now_v7(), actor.user_id, Timestamp::now());
        let write_id = Uuid::now_v7();
        let scopes = scopes::of_write(None, Some(&tool));
        let answer = answer_of(&tool)?;
        let record = WriteRecord {
            id: write_id,
            scopes: Some(&scopes),
            key: self.claim(key, Some(&answer)),
        };
        self.count_write_in().await;
        let deadline = self.deadline();
        self.within(deadline, async {
            self.store.insert(&tool, record).await.map_err(|e| match e {
                StoreError::Duplicate => ToolError::NameTaken(tool.name.clone()),
                other => other.into(),
            })
        })
        .await?;
        Ok(CommittedWrite {
            write_id,
            tool_id: tool.id,
            tool: Some(tool),
            scopes,
            changed: true,
            budget_ends: deadline,
        })
    }

    /// The database half of [`update`](Self::update).
    pub async fn commit_update(
        &self,
        actor: &Actor,
        id: Uuid,
        body: &Value,
        if_match: Option<&str>,
        key: Option<&IdempotentRequest>,
    ) -> Result<CommittedWrite, ToolError> {
        let changes = ToolChanges::from_json(body);
        let write_id = Uuid::now_v7();
        self.count_write_in().await;
        let deadline = self.deadline();
        self.within(deadline, async {
            for _ in 0..WRITE_ATTEMPTS {
                let current = self.writable(actor, id).await?;
                let changes = changes
                    .as_ref()
                    .map_err(|e| ToolError::Invalid(e.clone()))?;
                if let Some(condition) = if_match {
                    if !etag::if_match(condition, &current.etag()) {
                        return Err(ToolError::PreconditionFailed);
                    }
                }
                let next = changes.applied_to(&current, Timestamp::now());
                if next.same_fields(&current) {
                    return Ok(CommittedWrite::unchanged(current));
                }
                let scopes = scopes::of_write(Some(&current), Some(&next));
                let answer = answer_of(&next)?;
                let record = WriteRecord {
                    id: write_id,
                    scopes: Some(&scopes),
                    key: self.claim(key, Some(&answer)),
                };
                match self.store.update(&next, record).await {
                    Ok(true) => {
                        return Ok(CommittedWrite {
                            write_id,
                            tool_id: id,
                            tool: Some(next),
                            scopes,
                            changed: true,
                            budget_ends: deadline,
                        })
                    }
                    Ok(false) => continue,
                    Err(StoreError::Duplicate) => return Err(ToolError::NameTaken(next.name)),
                    Err(other) => return Err(other.into()),
                }
            }
            Err(ToolError::Contention)
        })
        .await
    }

    /// The database half of [`delete`](Self::delete).
    pub async fn commit_delete(
        &self,
        actor: &Actor,
        id: Uuid,
        key: Option<&IdempotentRequest>,
    ) -> Result<CommittedWrite, ToolError> {
        let write_id = Uuid::now_v7();
        self.count_write_in().await;
        let deadline = self.deadline();
        self.within(deadline, async {
            for _ in 0..WRITE_ATTEMPTS {
                let current = self.writable(actor, id).await?;
                let scopes = scopes::of_write(Some(&current), None);
                let record = WriteRecord {
                    id: write_id,
                    scopes: Some(&scopes),
                    key: self.claim(key, None),
                };
                if self.store.delete(id, current.revision, record).await? {
                    return Ok(CommittedWrite {
                        write_id,
                        tool_id: id,
                        tool: None,
                        scopes,
                        changed: true,
                        budget_ends: deadline,
                    });
                }
            }
            Err(ToolError::Contention)
        })
        .await
    }

    /// Counts a write in with Redis before its transaction begins, so a quiet sweeper
    /// ([`SweeperMode::Quiet`](crate::config::SweeperMode)) knows the database may hold
    /// something new. A Redis that does not answer costs the write nothing: the sweeper sees it
    /// fail too and drains once it answers again.
    async fn count_write_in(&self) {
        if let Err(error) = self.cache.count_write_in().await {
            tracing::debug!(%error, "write not counted in with redis");
        }
    }

    /// The cache half of a write, right after its commit: publishes the new revision (or the
    /// deletion) with a marker that stops older fills, retires the list pages the write can
    /// change (both at once), and marks the write's outbox row applied. Redis that does not take
    /// it (paused, failing over, restarted: a failed call also drops its connection) is tried
    /// again, past this instance's breaker, for up to `PUBLISH_RETRY_MS` within the request's
    /// budget: a moment of refused writes costs this client latency, not another reader a stale
    /// tool. Only what Redis still refuses then is left to the outbox.
    pub async fn publish(&self, write: &CommittedWrite) {
        if !write.changed {
            return;
        }
        let mut applied = apply_to_cache(&self.cache, write).await;
        let until = write
            .budget_ends
            .min(Instant::now() + self.cache.config().publish_retry);
        let insisting = self.cache.past_the_breaker();
        let mut pause = PUBLISH_RETRY_FIRST_PAUSE;
        while applied.is_err() && Instant::now() + pause < until {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(PUBLISH_RETRY_MAX_PAUSE);
            applied = apply_to_cache(&insisting, write).await;
        }
        if let Err(error) = applied {
            tracing::warn!(
                tool = %write.tool_id,
                %error,
                "cache not updated after a committed write; its invalidation stays in the outbox"
            );
            return;
        }
        let mark = self.store.mark_write_applied(write.write_id);
        match tokio::time::timeout(MARK_APPLIED_LIMIT, mark).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::info!(%error, "invalidation applied but not marked; the sweeper will")
            }
            Err(_) => {
                tracing::info!("invalidation applied but not marked in time; the sweeper will")
            }
        }
    }

    /// Applies the pending invalidations recorded at least `min_age` ago, oldest first, and marks
    /// them applied, until none is left or `until` has passed (checked between batches). Returns
    /// how many it applied; stops at the first failure (what is left stays pending). Repeating an
    /// invalidation is harmless: the revision guard keeps newer entries.
    pub async fn replay_invalidations(
        &self,
        min_age: Duration,
        until: Instant,
    ) -> Result<usize, ReplayError> {
        let mut applied = 0;
        let mut after = 0;
        while Instant::now() < until {
            let batch = self
                .store
                .pending_invalidations(after, min_age, REPLAY_BATCH)
                .await?;
            let Some(last) = batch.last() else {
                break;
            };
            after = last.seq;
            let (tools, lists) = tokio::join!(self.apply_to_tools(&batch), self.retire(&batch));
            tools.and(lists)?;
            let seqs: Vec<i64> = batch.iter().map(|p| p.seq).collect();
            self.store.mark_applied(&seqs).await?;
            applied += batch.len();
            if batch.len() < REPLAY_BATCH as usize {
                break;
            }
        }
        Ok(applied)
    }

    /// Applies again what Redis lost: the invalidations past its watermark that left no
    /// evidence there (all of them, after a restart from an older snapshot or a failover to a
    /// replica that missed them), then moves the watermark past them. Every tool past it is
    /// evicted again too (keeping what is current), since in a cluster a tool lives on another
    /// shard than the evidence. A Redis without a watermark (new, or emptied) holds nothing
    /// older than itself, except what a reader's late fill may have put back since: the writes
    /// within the write marker's lifetime are applied again. Stops at `until` or when the
    /// watermark moved under it (another sweeper); returns how many lost invalidations it
    /// applied.
    pub async fn replay_lost(
        &self,
        min_age: Duration,
        until: Instant,
    ) -> Result<usize, ReplayError> {
        let mut replayed = 0;
        while Instant::now() < until {
            let watermark = self.cache.applied_watermark().await?;
            let after = match watermark {
                Some(seq) => seq,
                None => {
                    let lookback = self.cache.config().write_marker_ttl;
                    self.store.last_seq_before(lookback).await?
                }
            };
            let batch = self
                .store
                .invalidations_after(after, min_age, REPLAY_BATCH)
                .await?;
            let writes: Vec<Uuid> = batch.iter().map(|i| i.write_id).collect();
            let lacking = self.cache.lack_evidence(&writes).await?;
            let lost: Vec<Invalidation> = batch
                .iter()
                .zip(lacking)
                .filter(|(_, lacking)| *lacking)
                .map(|(invalidation, _)| invalidation.clone())
                .collect();
            let (tools, lists) = tokio::join!(self.apply_to_tools(&batch), self.retire(&lost));
            tools.and(lists)?;
            let seqs: Vec<i64> = lost.iter().map(|i| i.seq).collect();
            self.store.mark_applied(&seqs).await?;
            let to = batch.last().map_or(after, |last| last.seq);
            if to == after && watermark.is_some() {
                break;
            }
            if !self.cache.advance_watermark(watermark, to, &writes).await? {
                break;
            }
            replayed += lost.len();
            if batch.len() < REPLAY_BATCH as usize {
                break;
            }
        }
        Ok(replayed)
    }

    /// Evicts (or marks deleted) the tool of every one of `batch`, all at once.
    async fn apply_to_tools(&self, batch: &[Invalidation]) -> Result<(), CacheError> {
        let calls = batch.iter().map(|invalidation| async move {
            if invalidation.revision == DELETED_REVISION {
                self.cache.publish_deleted_tool(invalidation.tool_id).await
            } else {
                self.cache
                    .evict_tool(invalidation.tool_id, invalidation.revision)
                    .await
            }
        });
        futures_util::future::join_all(calls)
            .await
            .into_iter()
            .collect()
    }

    /// Retires the list pages of every one of `batch` and records them applied: one script
    /// call for those that name their scopes, one for those that retire every page.
    async fn retire(&self, batch: &[Invalidation]) -> Result<(), CacheError> {
        let (scoped, everything): (Vec<&Invalidation>, Vec<&Invalidation>) =
            batch.iter().partition(|i| i.scopes.is_some());
        if !scoped.is_empty() {
            let mut scopes: Vec<String> = scoped
                .iter()
                .flat_map(|i| i.scopes.iter().flatten().cloned())
                .collect();
            scopes.sort();
            scopes.dedup();
            let writes: Vec<Uuid> = scoped.iter().map(|i| i.write_id).collect();
            self.cache.retire_lists(Some(&scopes), &writes).await?;
        }
        if !everything.is_empty() {
            let writes: Vec<Uuid> = everything.iter().map(|i| i.write_id).collect();
            self.cache.retire_lists(None, &writes).await?;
        }
        Ok(())
    }

    /// The invalidations recorded and not yet applied.
    pub async fn outbox_backlog(&self) -> Result<OutboxBacklog, StoreError> {
        self.store.backlog().await
    }

    /// Deletes the outbox rows applied longer than `retention` ago.
    pub async fn prune_invalidations(&self, retention: Duration) -> Result<i64, StoreError> {
        self.store.prune_applied(retention).await
    }

    /// The current tool `id` from the database, if `actor` may change it.
    async fn writable(&self, actor: &Actor, id: Uuid) -> Result<Tool, ToolError> {
        let current = self.store.get(id).await?.ok_or(ToolError::NotFound)?;
        if actor.may_modify(&current) {
            Ok(current)
        } else {
            Err(ToolError::Forbidden)
        }
    }

    /// When the database work of a request starting now must end.
    fn deadline(&self) -> Instant {
        Instant::now() + self.request_budget
    }

    /// Runs a request's database work until `deadline`; past it, 503.
    async fn within<T, E: Into<ToolError>>(
        &self,
        deadline: Instant,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, ToolError> {
        match tokio::time::timeout_at(deadline, work).await {
            Ok(result) => result.map_err(Into::into),
            Err(_) => {
                tracing::warn!(budget = ?self.request_budget, "database work out of time");
                Err(ToolError::Unavailable)
            }
        }
    }
}

/// The answer of a list entry found in the cache.
fn cached_list(entry: CachedList) -> Result<(CachedPage, CacheStatus), ToolError> {
    match entry {
        CachedList::Page(page) => Ok((page, CacheStatus::Hit)),
        CachedList::TooBroad => Err(ToolError::TooBroad),
    }
}

fn present(tool: CachedTool, status: CacheStatus) -> Result<(ToolBody, CacheStatus), ToolError> {
    if tool.is_deleted() {
        Err(ToolError::Gone)
    } else if tool.is_absent() {
        Err(ToolError::NotFound)
    } else {
        Ok((tool, status))
    }
}

fn to_json(value: &impl Serialize) -> Result<Vec<u8>, ToolError> {
    serde_json::to_vec(value).map_err(|e| ToolError::Internal(e.to_string()))
}

/// The answer a keyed write records: the tool as written.
fn answer_of(tool: &Tool) -> Result<String, ToolError> {
    serde_json::to_string(tool).map_err(|e| ToolError::Internal(e.to_string()))
}

/// The tool a keyed write first answered with.
fn answered_tool(first: KeyedWrite) -> Result<Tool, ToolError> {
    let answer = first
        .answer
        .ok_or_else(|| ToolError::Internal("the key's first write answered no tool".into()))?;
    serde_json::from_str(&answer).map_err(|e| ToolError::Internal(e.to_string()))
}

impl<S: ToolStore> ToolService<S> {
    /// A service over `store` as `config` sets it up: Redis from `config.cache`, cursors signed
    /// with the cursor key, the request and miss budgets, the idempotency keys' retention.
    pub fn configured(store: S, config: &crate::config::Config) -> Self {
        Self::new(
            store,
            CacheService::new(&config.cache),
            config.cursor_secret.expose(),
            config.database.budget.request_budget,
        )
        .with_miss_budget(MissBudget::from(&config.throttle))
        .with_retention(
            config.database.idempotency_key_ttl,
            config.database.tombstone_retention,
        )
    }
}

impl ToolService<DataApiToolStore> {
    /// The production wiring: [`configured`](Self::configured) over the Data API of
    /// `config.database` (its client built lazily, on the first cache miss).
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self::configured(
            DataApiToolStore::new(DataApi::new(config.database.clone())),
            config,
        )
    }
}

/// Publishes `write`'s tool (or its deletion) and retires its pages, both at once, through
/// `cache`. Both are harmless to repeat.
async fn apply_to_cache(cache: &CacheService, write: &CommittedWrite) -> Result<(), CacheError> {
    let tool = async {
        match &write.tool {
            Some(tool) => match to_json(tool) {
                Ok(body) => cache.publish_tool(tool.id, tool.revision, &body).await,
                Err(error) => {
                    tracing::error!(%error, "tool not serializable; evicting it instead");
                    cache.evict_tool(tool.id, tool.revision).await
                }
            },
            None => cache.publish_deleted_tool(write.tool_id).await,
        }
    };
    let writes = [write.write_id];
    let lists = cache.retire_lists(Some(&write.scopes), &writes);
    let (tool, lists) = tokio::join!(tool, lists);
    tool.and(lists)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::*;
    use crate::config::Config;
    use crate::domain::Role;
    use crate::store::memory::MemoryToolStore;

    /// A service over tools in memory, with Redis unreachable (every read bypasses the cache
    /// and every write leaves its invalidation pending) and a 200 ms request budget.
    fn service() -> ToolService<MemoryToolStore> {
        let config = Config::from_lookup(|name| match name {
            "REDIS_URL" => Some("not a redis url".into()),
            "DB_REQUEST_BUDGET_MS" => Some("200".into()),
            _ => None,
        })
        .expect("config");
        ToolService::new(
            MemoryToolStore::new(),
            CacheService::new(&config.cache),
            config.cursor_secret.expose(),
            config.database.budget.request_budget,
        )
    }

    fn user(role: Role) -> Actor {
        Actor {
            user_id: Uuid::now_v7(),
            session_id: Uuid::now_v7(),
            role,
        }
    }

    fn body(name: &str) -> Value {
        json!({
            "name": name,
            "description": "A tool for the unit tests",
            "category": "testing",
            "tags": ["unit"],
            "version": "1.0.0",
            "inputSchema": {"type": "object"}
        })
    }

    async fn stored_revision(tools: &ToolService<MemoryToolStore>, id: Uuid) -> Option<i64> {
        tools.store().get(id).await.unwrap().map(|t| t.revision)
    }

    #[tokio::test]
    async fn an_update_under_a_stale_if_match_is_refused_and_changes_nothing() {
        let tools = service();
        let owner = user(Role::User);
        let tool = tools.create(&owner, &body("etags"), None).await.unwrap();
        let patch = json!({"version": "1.1.0"});
        let updated = tools
            .update(&owner, tool.id, &patch, Some("\"r0\", \"r1\""), None)
            .await
            .unwrap();
        assert_eq!(updated.revision, 2);
        let stale = tools
            .update(&owner, tool.id, &patch, Some("\"r1\""), None)
            .await;
        assert!(
            matches!(stale, Err(ToolError::PreconditionFailed)),
            "{stale:?}"
        );
        assert_eq!(stored_revision(&tools, tool.id).await, Some(2));
    }

    #[tokio::test]
    async fn a_write_that_loses_races_reads_again_and_gives_up_after_five() {
        let tools = service();
        let owner = user(Role::User);
        let tool = tools.create(&owner, &body("races"), None).await.unwrap();
        tools.store().lose_races(4);
        let patch = json!({"description": "Changed after four lost races"});
        let updated = tools
            .update(&owner, tool.id, &patch, None, None)
            .await
            .unwrap();
        assert_eq!(
            updated.revision,
            1 + 4 + 1,
            "applied to what the others wrote"
        );
        tools.store().lose_races(5);
        let patch = json!({"description": "Changed after five lost races"});
        let gave_up = tools.update(&owner, tool.id, &patch, None, None).await;
        assert!(matches!(gave_up, Err(ToolError::Contention)), "{gave_up:?}");
        tools.store().lose_races(5);
        let gave_up = tools.delete(&owner, tool.id, None).await;
        assert!(matches!(gave_up, Err(ToolError::Contention)), "{gave_up:?}");
        assert!(stored_revision(&tools, tool.id).await.is_some());
    }

    #[tokio::test]
    async fn only_the_owner_or_an_admin_changes_a_tool() {
        let tools = service();
        let owner = user(Role::User);
        let tool = tools.create(&owner, &body("owned"), None).await.unwrap();
        let patch = json!({"version": "2.0.0"});
        let other = tools
            .update(&user(Role::User), tool.id, &patch, None, None)
            .await;
        assert!(matches!(other, Err(ToolError::Forbidden)), "{other:?}");
        let other = tools.delete(&user(Role::User), tool.id, None).await;
        assert!(matches!(other, Err(ToolError::Forbidden)), "{other:?}");
        let admin = user(Role::Admin);
        assert!(tools
            .update(&admin, tool.id, &patch, None, None)
            .await
            .is_ok());
        tools.delete(&admin, tool.id, None).await.unwrap();
        assert_eq!(stored_revision(&tools, tool.id).await, None);
        let gone = tools.delete(&owner, tool.id, None).await;
        assert!(matches!(gone, Err(ToolError::NotFound)), "{gone:?}");
    }

    #[tokio::test]
    async fn a_taken_name_is_a_conflict_on_create_and_on_rename() {
        let tools = service();
        let owner = user(Role::User);
        tools.create(&owner, &body("taken"), None).await.unwrap();
        let again = tools.create(&owner, &body("taken"), None).await;
        assert!(
            matches!(&again, Err(ToolError::NameTaken(n)) if n == "taken"),
            "{again:?}"
        );
        let other = tools.create(&owner, &body("other"), None).await.unwrap();
        let rename = json!({"name": "taken"});
        let renamed = tools.update(&owner, other.id, &rename, None, None).await;
        assert!(
            matches!(renamed, Err(ToolError::NameTaken(_))),
            "{renamed:?}"
        );
    }

    #[tokio::test]
    async fn invalid_fields_of_a_create_are_refused_before_the_database_is_asked() {
        let tools = service();
        tools
            .store()
            .fail_next([StoreError::Database("must not be reached".into())]);
        let created = tools
            .create(&user(Role::User), &json!({"name": ""}), None)
            .await;
        let Err(ToolError::Invalid(errors)) = created else {
            panic!("{created:?}");
        };
        let fields: BTreeSet<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(
            fields.contains("name") && fields.contains("inputSchema"),
            "{fields:?}"
        );
    }

    #[tokio::test]
    async fn store_failures_are_unavailable_when_transient_and_internal_otherwise() {
        let tools = service();
        let id = Uuid::now_v7();
        tools
            .store()
            .fail_next([StoreError::Unavailable("resuming".into())]);
        assert!(matches!(tools.get(id).await, Err(ToolError::Unavailable)));
        tools
            .store()
            .fail_next([StoreError::Database("syntax".into())]);
        assert!(matches!(tools.get(id).await, Err(ToolError::Internal(_))));
        assert!(matches!(tools.get(id).await, Err(ToolError::NotFound)));
    }

    #[tokio::test]
    async fn a_request_out_of_database_time_is_unavailable() {
        let tools = service();
        tools.store().set_latency(Duration::from_millis(400));
        let started = std::time::Instant::now();
        let read = tools.get(Uuid::now_v7()).await;
        assert!(matches!(read, Err(ToolError::Unavailable)), "{read:?}");
        assert!(
            started.elapsed() < Duration::from_millis(400),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn writes_redis_did_not_take_stay_pending_in_the_outbox() {
        let tools = service();
        let owner = user(Role::User);
        let tool = tools.create(&owner, &body("pending"), None).await.unwrap();
        tools
            .update(&owner, tool.id, &json!({"version": "3"}), None, None)
            .await
            .unwrap();
        tools.delete(&owner, tool.id, None).await.unwrap();
        assert_eq!(tools.outbox_backlog().await.unwrap().pending, 3);
        let until = Instant::now() + Duration::from_secs(5);
        let replay = tools.replay_invalidations(Duration::ZERO, until).await;
        assert!(matches!(replay, Err(ReplayError::Cache(_))), "{replay:?}");
        let backlog = tools.outbox_backlog().await.unwrap();
        assert_eq!(backlog.pending, 3, "nothing lost");
        assert!(backlog.oldest.is_some_and(|at| at <= Timestamp::now()));
    }

    #[tokio::test]
    async fn list_pages_follow_their_cursors_through_every_match_once() {
        let tools = service();
        let owner = user(Role::User);
        for i in 0..7 {
            let mut tool = body(&format!("page-{i}"));
            tool["category"] = json!(if i % 2 == 0 { "even" } else { "odd" });
            tools.create(&owner, &tool, None).await.unwrap();
        }
        for (raw, expected) in [("limit=2&sort=-name", 7), ("limit=3&category=even", 4)] {
            let mut query = ListQuery::parse(Some(raw)).unwrap();
            let mut names = Vec::new();
            loop {
                let (page, status) = tools.list(&query, None).await.unwrap();
                assert_eq!(status, CacheStatus::Bypass);
                let page: Value = serde_json::from_slice(&page.body).unwrap();
                let items = page["items"].as_array().unwrap();
                assert!(items.len() <= query.limit as usize);
                names.extend(items.iter().map(|t| t["name"].as_str().unwrap().to_owned()));
                match page["nextCursor"].as_str() {
                    Some(cursor) => query.cursor = Some(cursor.to_owned()),
                    None => break,
                }
            }
            let mut sorted = names.clone();
            sorted.sort();
            if raw.contains("-name") {
                sorted.reverse();
            }
            assert_eq!(names, sorted, "{raw}: in order");
            assert_eq!(names.len(), expected, "{raw}: {names:?}");
            assert_eq!(
                names.iter().collect::<BTreeSet<_>>().len(),
                expected,
                "{raw}: once"
            );
        }
    }
}
