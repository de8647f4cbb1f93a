//! The store contracts in process memory, so the services' own logic (preconditions, retries
//! after lost races, the outbox, the request budget; the refresh grace window, throttling) has
//! fast unit tests without MariaDB. Integration, property and fault tests run on the Data API
//! stores.
//!
//! - [`MemoryToolStore`]: names unique, an update or a delete applies only to the revision it
//!   read, one outbox row per write, lists in keyset order. No page size budget, no lost Data
//!   API answers (so no write-id recognition of a retried statement), no `LIMIT` on pruning; it
//!   can make the next calls fail, be slow, or lose races.
//! - [`MemoryAccountStore`]: users by normalized email, sessions, refresh tokens rotated once,
//!   failure windows counted as the SQL upsert counts them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::{
    AccountStore, FailureWindow, Invalidation, KeyedWrite, ListPage, OutboxBacklog, PublishedKey,
    Rotation, SessionRecord, StoreError, ToolStore, UserRecord, WriteRecord,
};
use crate::domain::search::{self, Search};
use crate::domain::{
    normalize_email, Cursor, ListItem, ListQuery, SortKey, Timestamp, Tool, DELETED_REVISION,
};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Tools and their outbox in a `Mutex`.
#[derive(Default)]
pub struct MemoryToolStore {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    tools: BTreeMap<Uuid, Tool>,
    outbox: Vec<OutboxRow>,
    /// Idempotency keys by caller and key, with when they were recorded.
    keys: HashMap<(Uuid, String), (KeyedWrite, Instant)>,
    /// Deleted tools' ids, with when they were deleted.
    tombstones: HashMap<Uuid, (Timestamp, Instant)>,
    failures: Vec<StoreError>,
    lost_races: u32,
    latency: Duration,
}

struct OutboxRow {
    seq: i64,
    write: Uuid,
    tool_id: Uuid,
    revision: i64,
    scopes: Option<Vec<String>>,
    created: Instant,
    applied: Option<Instant>,
}

impl MemoryToolStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next calls fail with `errors`, one each, in order.
    pub fn fail_next(&self, errors: impl IntoIterator<Item = StoreError>) {
        let mut state = self.lock();
        let mut errors: Vec<_> = errors.into_iter().collect();
        errors.reverse();
        errors.append(&mut state.failures);
        state.failures = errors;
    }

    /// The next `count` updates or deletes lose a race: another writer changes the tool (its
    /// revision goes up by one) just before each.
    pub fn lose_races(&self, count: u32) {
        self.lock().lost_races = count;
    }

    /// Every call takes `latency` before it answers.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Waits the latency, then takes the next failure, if any.
    async fn enter(&self) -> Result<(), StoreError> {
        let latency = self.lock().latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        self.lock().failures.pop().map_or(Ok(()), Err)
    }
}

impl OutboxRow {
    fn invalidation(&self) -> Invalidation {
        Invalidation {
            seq: self.seq,
            write_id: self.write,
            tool_id: self.tool_id,
            revision: self.revision,
            scopes: self.scopes.clone(),
        }
    }
}

impl State {
    /// [`StoreError::KeyInUse`] if `write`'s idempotency key is recorded and not expired.
    fn claimable(&self, write: &WriteRecord<'_>) -> Result<(), StoreError> {
        let Some(claim) = write.key else {
            return Ok(());
        };
        let id = (claim.request.caller, claim.request.key.clone());
        match self.keys.get(&id) {
            Some((_, at)) if at.elapsed() < claim.retention => Err(StoreError::KeyInUse),
            _ => Ok(()),
        }
    }

    fn record(&mut self, write: WriteRecord<'_>, tool_id: Uuid, revision: i64) {
        if let Some(claim) = write.key {
            let first = KeyedWrite {
                fingerprint: claim.request.fingerprint.clone(),
                answer: claim.answer.map(str::to_owned),
            };
            let id = (claim.request.caller, claim.request.key.clone());
            self.keys.insert(id, (first, Instant::now()));
        }
        let seq = self.outbox.last().map_or(1, |row| row.seq + 1);
        self.outbox.push(OutboxRow {
            seq,
            write: write.id,
            tool_id,
            revision,
            scopes: write.scopes.map(<[String]>::to_vec),
            created: Instant::now(),
            applied: None,
        });
    }

    fn name_taken(&self, tool: &Tool) -> bool {
        self.tools
            .values()
            .any(|t| t.name == tool.name && t.id != tool.id)
    }

    /// Another writer's change, if a lost race is due.
    fn interfere(&mut self, id: Uuid) {
        if self.lost_races == 0 {
            return;
        }
        self.lost_races -= 1;
        if let Some(tool) = self.tools.get_mut(&id) {
            tool.revision += 1;
        }
    }
}

/// Whether `tool` passes `query`'s filters (the SQL `WHERE` of the Data API store).
fn matches(query: &ListQuery, tool: &Tool) -> bool {
    query.category.as_ref().is_none_or(|c| *c == tool.category)
        && query.status.is_none_or(|s| s == tool.status)
        && query.owner_id.is_none_or(|o| o == tool.owner_id)
        && query.tag.as_ref().is_none_or(|t| tool.tags.contains(t))
        && query
            .updated_since
            .is_none_or(|since| tool.updated_at.millis() >= since)
}

/// The position of `tool` in `query`'s order, comparable with a cursor's; `None` when it does
/// not match the search.
fn position(
    query: &ListQuery,
    searched: Option<&(Search, BTreeMap<String, i64>)>,
    tool: &Tool,
) -> Option<(SortKey, Uuid)> {
    let standing = match searched {
        Some((search, weights)) => search::score(tool, search, weights)?,
        None => search::Scored::default(),
    };
    let key = query.sort.key_of(tool).unwrap_or_else(|| {
        SortKey::Rank(
            [i64::from(standing.exact), standing.matched, standing.score],
            tool.category.clone(),
        )
    });
    Some((key, tool.id))
}

fn ordered(a: &(SortKey, Uuid), b: &(SortKey, Uuid), descending: bool) -> std::cmp::Ordering {
    let order = match (&a.0, &b.0) {
        // Names are unique: the id never decides.
        (SortKey::Name(x), SortKey::Name(y)) => x.as_bytes().cmp(y.as_bytes()),
        (SortKey::Time(x), SortKey::Time(y)) => x.cmp(y).then(a.1.cmp(&b.1)),
        (SortKey::Rank(x, c), SortKey::Rank(y, d)) => x
            .cmp(y)
            .then(c.as_bytes().cmp(d.as_bytes()))
            .then(a.1.cmp(&b.1)),
        _ => std::cmp::Ordering::Equal,
    };
    if descending {
        order.reverse()
    } else {
        order
    }
}

impl ToolStore for MemoryToolStore {
    async fn get(&self, id: Uuid) -> Result<Option<Tool>, StoreError> {
        self.enter().await?;
        Ok(self.lock().tools.get(&id).cloned())
    }

    async fn list(
        &self,
        query: &ListQuery,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<ListPage, StoreError> {
        self.enter().await?;
        let descending = query.sort.descending();
        let state = self.lock();
        let searched = query.search().map(|search| {
            let weights = match after.and_then(|c| c.weights.clone()) {
                Some(weights) => weights,
                None => search.weigh_over(state.tools.values()),
            };
            (search, weights)
        });
        let weights = searched.as_ref().map(|(_, weights)| weights.clone());
        let searched = searched.map(|(search, weights)| (search, weights.into_iter().collect()));
        let after = after.map(|c| (c.key.clone(), c.id));
        let mut tools: Vec<((SortKey, Uuid), &Tool)> = state
            .tools
            .values()
            .filter(|tool| matches(query, tool))
            .filter_map(|tool| Some((position(query, searched.as_ref(), tool)?, tool)))
            .filter(|(at, _)| {
                after
                    .as_ref()
                    .is_none_or(|after| ordered(at, after, descending).is_gt())
            })
            .collect();
        tools.sort_by(|a, b| ordered(&a.0, &b.0, descending));
        let more = tools.len() > limit as usize;
        tools.truncate(limit as usize);
        let next = match tools.last() {
            Some(((key, id), _)) if more => Some(Cursor {
                key: key.clone(),
                id: *id,
                weights,
                depth: None,
            }),
            _ => None,
        };
        Ok(ListPage {
            items: tools
                .into_iter()
                .map(|(_, tool)| ListItem::Tool(Box::new(tool.clone())))
                .collect(),
            next,
        })
    }

    async fn insert(&self, tool: &Tool, write: WriteRecord<'_>) -> Result<(), StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        state.claimable(&write)?;
        if state.name_taken(tool) || state.tools.contains_key(&tool.id) {
            return Err(StoreError::Duplicate);
        }
        state.tools.insert(tool.id, tool.clone());
        state.record(write, tool.id, tool.revision);
        Ok(())
    }

    async fn update(&self, tool: &Tool, write: WriteRecord<'_>) -> Result<bool, StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        state.claimable(&write)?;
        state.interfere(tool.id);
        let current = state.tools.get(&tool.id).map(|t| t.revision);
        if current != Some(tool.revision - 1) {
            return Ok(false);
        }
        if state.name_taken(tool) {
            return Err(StoreError::Duplicate);
        }
        state.tools.insert(tool.id, tool.clone());
        state.record(write, tool.id, tool.revision);
        Ok(true)
    }

    async fn delete(
        &self,
        id: Uuid,
        revision: i64,
        write: WriteRecord<'_>,
    ) -> Result<bool, StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        state.claimable(&write)?;
        state.interfere(id);
        match state.tools.get(&id) {
            // Gone already (a concurrent delete): either way the tool is deleted.
            None => {}
            Some(tool) if tool.revision != revision => return Ok(false),
            Some(_) => {
                state.tools.remove(&id);
                state
                    .tombstones
                    .insert(id, (Timestamp::now(), Instant::now()));
            }
        }
        state.record(write, id, DELETED_REVISION);
        Ok(true)
    }

    async fn pending_invalidations(
        &self,
        after_seq: i64,
        min_age: Duration,
        limit: u32,
    ) -> Result<Vec<Invalidation>, StoreError> {
        self.enter().await?;
        let state = self.lock();
        Ok(state
            .outbox
            .iter()
            .filter(|row| row.seq > after_seq && row.created.elapsed() >= min_age)
            .filter(|row| row.applied.is_none())
            .take(limit as usize)
            .map(OutboxRow::invalidation)
            .collect())
    }

    async fn invalidations_after(
        &self,
        after_seq: i64,
        min_age: Duration,
        limit: u32,
    ) -> Result<Vec<Invalidation>, StoreError> {
        self.enter().await?;
        let state = self.lock();
        Ok(state
            .outbox
            .iter()
            .filter(|row| row.seq > after_seq)
            .take(limit as usize)
            .take_while(|row| row.created.elapsed() >= min_age)
            .map(OutboxRow::invalidation)
            .collect())
    }

    async fn last_seq_before(&self, age: Duration) -> Result<i64, StoreError> {
        self.enter().await?;
        let state = self.lock();
        Ok(state
            .outbox
            .iter()
            .rev()
            .find(|row| row.created.elapsed() >= age)
            .map_or(0, |row| row.seq))
    }

    async fn mark_write_applied(&self, write: Uuid) -> Result<(), StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        for row in state.outbox.iter_mut().filter(|row| row.write == write) {
            row.applied.get_or_insert_with(Instant::now);
        }
        Ok(())
    }

    async fn mark_applied(&self, seqs: &[i64]) -> Result<(), StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        for row in state
            .outbox
            .iter_mut()
            .filter(|row| seqs.contains(&row.seq))
        {
            row.applied.get_or_insert_with(Instant::now);
        }
        Ok(())
    }

    async fn prune_applied(&self, retention: Duration) -> Result<i64, StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        let before = state.outbox.len();
        state
            .outbox
            .retain(|row| row.applied.is_none_or(|at| at.elapsed() < retention));
        Ok((before - state.outbox.len()) as i64)
    }

    async fn keyed_write(
        &self,
        caller: Uuid,
        key: &str,
        retention: Duration,
    ) -> Result<Option<KeyedWrite>, StoreError> {
        self.enter().await?;
        let state = self.lock();
        Ok(state
            .keys
            .get(&(caller, key.to_owned()))
            .filter(|(_, at)| at.elapsed() < retention)
            .map(|(first, _)| first.clone()))
    }

    async fn deleted_at(
        &self,
        id: Uuid,
        retention: Duration,
    ) -> Result<Option<Timestamp>, StoreError> {
        self.enter().await?;
        let state = self.lock();
        Ok(state
            .tombstones
            .get(&id)
            .filter(|(_, at)| at.elapsed() < retention)
            .map(|(deleted, _)| *deleted))
    }

    async fn prune_tombstones(&self, retention: Duration) -> Result<i64, StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        let before = state.tombstones.len();
        state
            .tombstones
            .retain(|_, (_, at)| at.elapsed() < retention);
        Ok((before - state.tombstones.len()) as i64)
    }

    async fn prune_keys(&self, retention: Duration) -> Result<i64, StoreError> {
        self.enter().await?;
        let mut state = self.lock();
        let before = state.keys.len();
        state.keys.retain(|_, (_, at)| at.elapsed() < retention);
        Ok((before - state.keys.len()) as i64)
    }

    async fn backlog(&self) -> Result<OutboxBacklog, StoreError> {
        self.enter().await?;
        let state = self.lock();
        let pending: Vec<_> = state
            .outbox
            .iter()
            .filter(|r| r.applied.is_none())
            .collect();
        Ok(OutboxBacklog {
            pending: pending.len() as i64,
            oldest: pending.first().map(|row| {
                let age = i64::try_from(row.created.elapsed().as_millis()).unwrap_or(i64::MAX);
                Timestamp::from_millis(Timestamp::now().millis().saturating_sub(age))
            }),
        })
    }
}

/// Users, sessions, refresh tokens and failure windows in a `Mutex`.
#[derive(Default)]
pub struct MemoryAccountStore {
    state: Mutex<Accounts>,
}

#[derive(Default)]
struct Accounts {
    users: HashMap<String, UserRecord>,
    sessions: HashMap<Uuid, (SessionRecord, Option<Timestamp>)>,
    tokens: HashMap<String, Token>,
    failures: HashMap<String, FailureWindow>,
    /// Published signing keys, oldest first.
    signing_keys: Vec<PublishedKey>,
}

struct Token {
    session_id: Uuid,
    rotated_at: Option<Timestamp>,
    expires_at: Timestamp,
}

impl MemoryAccountStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Accounts> {
        lock(&self.state)
    }
}

impl Accounts {
    /// Session `id` if it is alive at `now`, with its user's current role.
    fn live(&self, id: Uuid, now: Timestamp) -> Option<SessionRecord> {
        let (session, revoked) = self.sessions.get(&id)?;
        if revoked.is_some() || session.expires_at <= now {
            return None;
        }
        let role = self.users.values().find(|u| u.id == session.user_id)?.role;
        Some(SessionRecord {
            role,
            ..session.clone()
        })
    }

    fn add_token(&mut self, session: &SessionRecord, hash: &str) {
        self.tokens.entry(hash.to_owned()).or_insert(Token {
            session_id: session.session_id,
            rotated_at: None,
            expires_at: session.expires_at,
        });
    }
}

impl AccountStore for MemoryAccountStore {
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let mut state = self.lock();
        let email = normalize_email(&user.email);
        match state.users.get(&email) {
            Some(holder) if holder.id == user.id => Ok(()),
            Some(_) => Err(StoreError::Duplicate),
            None => {
                state.users.insert(email, user.clone());
                Ok(())
            }
        }
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.lock().users.get(&normalize_email(email)).cloned())
    }

    async fn replace_password_hash(
        &self,
        id: Uuid,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        match state
            .users
            .values_mut()
            .find(|u| u.id == id && u.password_hash == old)
        {
            Some(user) => {
                user.password_hash = new.to_owned();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn insert_session(
        &self,
        session: &SessionRecord,
        token_hash: &str,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        state
            .sessions
            .entry(session.session_id)
            .or_insert_with(|| (session.clone(), None));
        state.add_token(session, token_hash);
        Ok(())
    }

    async fn live_session(
        &self,
        id: Uuid,
        now: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.lock().live(id, now))
    }

    async fn session_of_current_token(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let state = self.lock();
        Ok(state
            .tokens
            .get(token_hash)
            .filter(|t| t.rotated_at.is_none() && t.expires_at > now)
            .and_then(|t| state.live(t.session_id, now)))
    }

    async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        successor_hash: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<Rotation, StoreError> {
        let mut state = self.lock();
        let Some(token) = state.tokens.get_mut(token_hash) else {
            return Ok(Rotation::Invalid);
        };
        if let Some(rotated_at) = token.rotated_at {
            return Ok(Rotation::Reused {
                session_id: token.session_id,
                since: now.since(rotated_at),
            });
        }
        if token.expires_at <= now {
            return Ok(Rotation::Invalid);
        }
        let session_id = token.session_id;
        if state.live(session_id, now).is_none() {
            return Ok(Rotation::Invalid);
        }
        if let Some(token) = state.tokens.get_mut(token_hash) {
            token.rotated_at = Some(now);
        }
        let (stored, _) = state.sessions.get_mut(&session_id).expect("a live session");
        stored.expires_at = expires_at;
        stored.last_refreshed_at = now;
        let session = state.live(session_id, now).expect("still live");
        state.add_token(&session, successor_hash);
        Ok(Rotation::Rotated { session })
    }

    async fn live_sessions_of(
        &self,
        user_id: Uuid,
        now: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let state = self.lock();
        let mut live: Vec<SessionRecord> = state
            .sessions
            .keys()
            .filter_map(|id| state.live(*id, now))
            .filter(|s| s.user_id == user_id)
            .collect();
        live.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        live.truncate(100);
        Ok(live)
    }

    async fn revoke_sessions_of(
        &self,
        user_id: Uuid,
        now: Timestamp,
    ) -> Result<Vec<Uuid>, StoreError> {
        let mut state = self.lock();
        let mut revoked = Vec::new();
        for (session, at) in state.sessions.values_mut() {
            if session.user_id == user_id && at.is_none() {
                *at = Some(now);
                revoked.push(session.session_id);
            }
        }
        Ok(revoked)
    }

    async fn prune_sessions(&self, before: Timestamp) -> Result<i64, StoreError> {
        let mut state = self.lock();
        let ended: Vec<Uuid> = state
            .sessions
            .values()
            .filter(|(s, revoked)| s.expires_at < before || revoked.is_some_and(|at| at < before))
            .take(100)
            .map(|(s, _)| s.session_id)
            .collect();
        state.sessions.retain(|id, _| !ended.contains(id));
        state.tokens.retain(|_, t| !ended.contains(&t.session_id));
        Ok(ended.len() as i64)
    }

    async fn revoke_session(&self, id: Uuid, now: Timestamp) -> Result<(), StoreError> {
        let mut state = self.lock();
        if let Some((_, revoked)) = state.sessions.get_mut(&id) {
            revoked.get_or_insert(now);
        }
        for token in state.tokens.values_mut().filter(|t| t.session_id == id) {
            token.rotated_at.get_or_insert(now);
        }
        Ok(())
    }

    async fn login_failures(
        &self,
        subjects: &[&str],
        since: Timestamp,
    ) -> Result<Vec<FailureWindow>, StoreError> {
        let state = self.lock();
        Ok(subjects
            .iter()
            .filter_map(|s| state.failures.get(*s))
            .filter(|w| w.window_started_at > since)
            .cloned()
            .collect())
    }

    async fn record_login_failure(
        &self,
        subjects: &[&str],
        now: Timestamp,
        since: Timestamp,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        for subject in subjects {
            let window = state
                .failures
                .entry((*subject).to_owned())
                .or_insert_with(|| FailureWindow {
                    subject: (*subject).to_owned(),
                    failures: 0,
                    window_started_at: now,
                });
            if window.window_started_at <= since {
                window.failures = 0;
                window.window_started_at = now;
            }
            window.failures += 1;
        }
        Ok(())
    }

    async fn clear_login_failures(&self, subject: &str) -> Result<(), StoreError> {
        self.lock().failures.remove(subject);
        Ok(())
    }

    async fn prune_login_failures(&self, before: Timestamp) -> Result<i64, StoreError> {
        let mut state = self.lock();
        let old: Vec<String> = state
            .failures
            .values()
            .filter(|w| w.window_started_at < before)
            .take(100)
            .map(|w| w.subject.clone())
            .collect();
        for subject in &old {
            state.failures.remove(subject);
        }
        Ok(old.len() as i64)
    }

    async fn publish_signing_key(&self, key: &PublishedKey) -> Result<(), StoreError> {
        let mut state = self.lock();
        if !state.signing_keys.contains(key) {
            state.signing_keys.push(key.clone());
        }
        Ok(())
    }

    async fn signing_keys(&self, limit: usize) -> Result<Vec<PublishedKey>, StoreError> {
        let state = self.lock();
        Ok(state
            .signing_keys
            .iter()
            .rev()
            .take(limit)
            .cloned()
            .collect())
    }
}
