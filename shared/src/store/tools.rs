//! The tool repository: a small trait and its Data API adapter.
//!
//! Every write changes the `tools` row and records its cache consequence in `cache_outbox` in one
//! transaction, both tagged with the request's write id. A write whose Data API answer was lost
//! and retried (by the SDK inside the transaction, or as a whole after a commit whose answer was
//! lost) therefore recognises its own effect instead of reporting a conflict.

use std::future::Future;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::changes;
use super::idempotency::{self, KeyClaim, KeyedWrite};
use super::pages::{self, PageRequest, SearchTerm};
use super::write_transaction::{CommitEvidence, Outcome, ROLLBACK_LIMIT};
use super::{param, search, tool_index, DataApi, StoreError, Transaction};
use crate::domain::{
    Cursor, DeletedStatus, DeletedTool, ListItem, ListQuery, SortKey, Timestamp, Tool, ToolStatus,
    DELETED_REVISION,
};

/// The database's clock in epoch milliseconds: every time in the outbox comes from it, so the
/// writers' clocks (which may drift) never decide when a row is old enough to sweep.
const DB_NOW_MS: &str = "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)";

/// A tool write as its transaction records it besides the tool: the request's id and the list
/// scopes it retires (`None`: every page), in its outbox row, and its idempotency key, if sent.
#[derive(Clone, Copy, Debug)]
pub struct WriteRecord<'a> {
    /// The request's write id.
    pub id: Uuid,
    /// The scopes of the list pages the write can change.
    pub scopes: Option<&'a [String]>,
    /// The request's idempotency key, claimed first in the transaction.
    pub key: Option<KeyClaim<'a>>,
}

/// A cache invalidation recorded by a committed write.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invalidation {
    /// Its position in the outbox (commit order, roughly).
    pub seq: i64,
    /// The write that recorded it.
    #[serde(deserialize_with = "uuid_text")]
    pub write_id: Uuid,
    /// The tool written.
    #[serde(deserialize_with = "uuid_text")]
    pub tool_id: Uuid,
    /// The revision written, or [`DELETED_REVISION`] for a delete.
    pub revision: i64,
    /// The list scopes it retires; `None`: every page.
    #[serde(default, deserialize_with = "scopes_text")]
    pub scopes: Option<Vec<String>>,
}

fn uuid_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Uuid, D::Error> {
    let text = String::deserialize(d)?;
    Uuid::try_parse(&text).map_err(serde::de::Error::custom)
}

fn scopes_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|text| serde_json::from_str(&text).map_err(serde::de::Error::custom))
        .transpose()
}

/// Where tools are stored: the source of truth behind the cache.
pub trait ToolStore: Send + Sync + 'static {
    /// The tool `id`, if it exists.
    fn get(&self, id: Uuid) -> impl Future<Output = Result<Option<Tool>, StoreError>> + Send;
    /// Up to `limit` tools matching `query`'s filters, in its order, strictly after `after`.
    ///
    /// A page may stop short of `limit` when the next tool would take it past the store's size
    /// budget (never before its first tool); [`ListPage::more`] then still says that more follow.
    fn list(
        &self,
        query: &ListQuery,
        after: Option<&Cursor>,
        limit: u32,
    ) -> impl Future<Output = Result<ListPage, StoreError>> + Send;
    /// Inserts a new tool and its invalidation, as write `write`; [`StoreError::Duplicate`] if
    /// its name is taken.
    fn insert(
        &self,
        tool: &Tool,
        write: WriteRecord<'_>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Replaces the tool with `tool` if its stored revision is still `tool.revision - 1`, with its
    /// invalidation, as write `write`. Returns whether it did (or had, on a retry).
    fn update(
        &self,
        tool: &Tool,
        write: WriteRecord<'_>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Deletes the tool `id` if its stored revision is `revision`, with its invalidation, as write
    /// `write`. Returns whether it is gone (`false`: it changed meanwhile).
    fn delete(
        &self,
        id: Uuid,
        revision: i64,
        write: WriteRecord<'_>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Up to `limit` pending invalidations after `after_seq`, oldest first, recorded at least
    /// `min_age` ago.
    fn pending_invalidations(
        &self,
        after_seq: i64,
        min_age: Duration,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Invalidation>, StoreError>> + Send;
    /// Up to `limit` invalidations after `after_seq`, applied or not, oldest first, stopping
    /// before the first one recorded less than `min_age` ago.
    fn invalidations_after(
        &self,
        after_seq: i64,
        min_age: Duration,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Invalidation>, StoreError>> + Send;
    /// The position of the last invalidation recorded at least `age` ago (0 if none).
    fn last_seq_before(
        &self,
        age: Duration,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// Marks the invalidation of write `write` applied.
    fn mark_write_applied(
        &self,
        write: Uuid,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Marks the invalidations `seqs` applied (those not applied yet).
    fn mark_applied(&self, seqs: &[i64]) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes invalidations applied longer than `retention` ago; returns how many.
    fn prune_applied(
        &self,
        retention: Duration,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// The pending part of the outbox: how many rows, and when the oldest was recorded.
    fn backlog(&self) -> impl Future<Output = Result<OutboxBacklog, StoreError>> + Send;
    /// The committed write of `caller`'s idempotency key `key`, unless older than `retention`.
    fn keyed_write(
        &self,
        caller: Uuid,
        key: &str,
        retention: Duration,
    ) -> impl Future<Output = Result<Option<KeyedWrite>, StoreError>> + Send;
    /// When the tool `id` was deleted, if no longer than `retention` ago.
    fn deleted_at(
        &self,
        id: Uuid,
        retention: Duration,
    ) -> impl Future<Output = Result<Option<Timestamp>, StoreError>> + Send;
    /// Deletes up to 1,000 tombstones older than `retention`; returns how many.
    fn prune_tombstones(
        &self,
        retention: Duration,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// Deletes up to 1,000 idempotency keys older than `retention`; returns how many.
    fn prune_keys(
        &self,
        retention: Duration,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
}

/// The invalidations recorded and not yet applied: the one figure that says readers may be
/// served stale data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxBacklog {
    /// Pending rows, counted up to [`BACKLOG_COUNT_CAP`].
    pub pending: i64,
    /// When the oldest pending row was recorded.
    pub oldest: Option<Timestamp>,
}

/// A backlog is counted up to this many rows: enough to size an outage, bounded to read.
pub const BACKLOG_COUNT_CAP: i64 = 100_000;

/// One page of a list.
#[derive(Debug)]
pub struct ListPage {
    /// The tools (and with `updatedSince` the tools deleted since), in the query's order.
    pub items: Vec<ListItem>,
    /// Where the next page starts, when more items match after the last one.
    pub next: Option<Cursor>,
}

impl ListPage {
    /// A page without items.
    pub fn empty() -> Self {
        Self {
            items: Vec::new(),
            next: None,
        }
    }
}

/// [`ToolStore`] on Aurora MySQL through the RDS Data API.
pub struct DataApiToolStore {
    db: DataApi,
    page_bytes: u64,
    time_limit_ms: u64,
    search_candidates: u32,
}

impl DataApiToolStore {
    /// A store over `db`, its list pages within the configured `LIST_PAGE_BYTES` and
    /// `LIST_TIME_LIMIT_MS`, its searches ranking `SEARCH_CANDIDATES` per word.
    pub fn new(db: DataApi) -> Self {
        let config = db.config();
        Self {
            page_bytes: config.list_page_bytes,
            time_limit_ms: u64::try_from(config.list_time_limit.as_millis()).unwrap_or(u64::MAX),
            search_candidates: config.search_candidates,
            db,
        }
    }

    /// Inserts those of `tools` whose names are not taken yet, with their index rows, in one
    /// transaction (`BatchExecuteStatement`) as write `write`, whose one outbox row retires the
    /// list pages. Returns the names it skipped. Tools of one batch must have distinct names.
    pub async fn insert_many(
        &self,
        tools: &[Tool],
        write: Uuid,
    ) -> Result<Vec<String>, StoreError> {
        #[derive(Deserialize)]
        struct Name {
            name: String,
        }
        let evidence = OutboxRow(write);
        let mut attempts = self.db.write_attempts(&evidence);
        loop {
            let tx = attempts.begin().await?;
            let decided = async {
                let placeholders: Vec<String> =
                    (0..tools.len()).map(|i| format!(":n{i}")).collect();
                let names = tools
                    .iter()
                    .enumerate()
                    .map(|(i, tool)| param(&format!("n{i}"), tool.name.as_str()))
                    .collect();
                let taken: Vec<Name> = tx
                    .query(
                        &format!(
                            "SELECT name FROM tools WHERE name IN ({})",
                            placeholders.join(", ")
                        ),
                        names,
                    )
                    .await?;
                let taken: Vec<String> = taken.into_iter().map(|n| n.name).collect();
                let fresh: Vec<&Tool> = tools.iter().filter(|t| !taken.contains(&t.name)).collect();
                if let Some(last) = fresh.last() {
                    let whole = fresh.len() / TOOLS_PER_SET * TOOLS_PER_SET;
                    let (sets, rest) = fresh.split_at(whole);
                    if !sets.is_empty() {
                        let sets = sets
                            .chunks(TOOLS_PER_SET)
                            .map(|set| new_tool_params(set, write))
                            .collect();
                        tx.batch_execute(&insert_tools_sql(TOOLS_PER_SET), sets)
                            .await?;
                    }
                    if !rest.is_empty() {
                        tx.execute(&insert_tools_sql(rest.len()), new_tool_params(rest, write))
                            .await?;
                    }
                    tool_index::insert(&tx, &fresh).await?;
                    let record = WriteRecord {
                        id: write,
                        scopes: None,
                        key: None,
                    };
                    record_invalidation(&tx, record, last.id, last.revision).await?;
                    return Ok(Outcome::Commit(taken));
                }
                Ok(Outcome::RollBack(taken))
            }
            .await
            .map_err(|error| match error {
                // A name taken meanwhile: check the names again.
                StoreError::Duplicate => StoreError::TransactionEnded("a name was taken".into()),
                other => other,
            });
            if let Some(taken) = attempts.end(tx, decided).await? {
                return Ok(taken);
            }
        }
    }

    /// The terms and weights of `query`'s search (from the cursor after the first page), or
    /// `None` when the search can match nothing.
    async fn page_search(
        &self,
        query: &ListQuery,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Option<PageSearch>, StoreError> {
        let Some(search) = query.search() else {
            return Ok(Some(PageSearch::default()));
        };
        if search.is_empty() {
            return Ok(None);
        }
        let weights = match after.and_then(|cursor| cursor.weights.clone()) {
            Some(weights) => weights,
            None => search::weigh(&self.db, &search, self.time_limit_ms).await?,
        };
        // Deep pages rank more candidates: a word's `SEARCH_CANDIDATES`, or as many as the
        // pages so far listed and the next one will.
        let depth = after.and_then(|cursor| cursor.depth).unwrap_or(0);
        let per_word = self
            .search_candidates
            .max(depth.saturating_add(limit).saturating_add(1));
        let terms = search::page_terms(&search, &weights, per_word);
        if terms.is_empty() {
            return Ok(None);
        }
        let owner_first = match query.owner_id {
            Some(owner) => self.owns_few(owner).await?,
            None => false,
        };
        Ok(Some(PageSearch {
            terms,
            weights: Some(weights),
            owner_first,
        }))
    }

    /// Whether `owner` has fewer than [`FEW_TOOLS`] tools: then a search of theirs walks their
    /// tools and looks each term up, instead of walking each term's postings for theirs (which,
    /// for an owner of a few tools among a common word's hundred thousand, reads them all).
    async fn owns_few(&self, owner: Uuid) -> Result<bool, StoreError> {
        #[derive(Deserialize)]
        struct Count {
            n: i64,
        }
        let rows: Vec<Count> = self
            .db
            .query(
                &format!(
                    "SELECT /*+ MAX_EXECUTION_TIME({}) */ COUNT(*) AS n FROM (SELECT 1 FROM tools \
                     WHERE owner_id = :owner LIMIT {FEW_TOOLS}) AS o",
                    self.time_limit_ms
                ),
                vec![param("owner", owner)],
            )
            .await?;
        Ok(rows.first().is_some_and(|count| count.n < FEW_TOOLS))
    }
}

/// An owner of fewer tools than this is searched by walking their tools (a bounded walk, whatever
/// the words); one of more, by walking the words' postings for theirs (at least this share of a
/// million-tool catalogue, about 1 in 200, so a page of candidates costs at most about 200 times
/// its size).
const FEW_TOOLS: i64 = 5_000;

/// The columns a new tool writes, each with its parameter's name.
const NEW_TOOL_COLUMNS: [(&str, &str); 19] = [
    ("id", "id"),
    ("name", "name"),
    ("title", "title"),
    ("description", "description"),
    ("category", "category"),
    ("tags", "tags"),
    ("version", "version"),
    ("input_schema", "inputSchema"),
    ("output_schema", "outputSchema"),
    ("annotations", "annotations"),
    ("icons", "icons"),
    ("execution", "execution"),
    ("meta", "meta"),
    ("status", "status"),
    ("owner_id", "ownerId"),
    ("revision", "revision"),
    ("created_at", "createdAt"),
    ("updated_at", "updatedAt"),
    ("write_id", "writeId"),
];

/// Tools per run of the bulk insert's statement: `BatchExecuteStatement` runs it once per
/// parameter set, each set writing this many tools.
const TOOLS_PER_SET: usize = 25;

/// `INSERT INTO tools` of `rows` tools, the parameters of row `r` suffixed with `r`.
fn insert_tools_sql(rows: usize) -> String {
    let columns: Vec<&str> = NEW_TOOL_COLUMNS.iter().map(|(column, _)| *column).collect();
    let tuples: Vec<String> = (0..rows)
        .map(|r| {
            let names: Vec<String> = NEW_TOOL_COLUMNS
                .iter()
                .map(|(_, name)| format!(":{name}{r}"))
                .collect();
            format!("({})", names.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO tools ({}) VALUES {}",
        columns.join(", "),
        tuples.join(", ")
    )
}

/// The parameters of `tools` for [`insert_tools_sql`], as write `write`.
fn new_tool_params(tools: &[&Tool], write: Uuid) -> Vec<aws_sdk_rdsdata::types::SqlParameter> {
    let mut params = Vec::with_capacity(tools.len() * NEW_TOOL_COLUMNS.len());
    for (r, tool) in tools.iter().enumerate() {
        let mut values = tool_params(tool);
        values.push(param("writeId", write));
        for mut value in values {
            let name = format!("{}{r}", value.name().unwrap_or_default());
            value.name = Some(name);
            params.push(value);
        }
    }
    params
}

const COLUMNS: &str = "id, name, title, description, category, tags, version, \
    input_schema AS inputSchema, output_schema AS outputSchema, annotations, icons, execution, \
    meta, status, owner_id AS ownerId, revision, created_at AS createdAt, updated_at AS updatedAt";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolRow {
    id: String,
    name: String,
    title: Option<String>,
    description: String,
    category: String,
    tags: String,
    version: String,
    input_schema: String,
    output_schema: Option<String>,
    annotations: Option<String>,
    icons: Option<String>,
    execution: Option<String>,
    meta: Option<String>,
    status: String,
    owner_id: String,
    revision: i64,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<ToolRow> for Tool {
    type Error = StoreError;

    fn try_from(row: ToolRow) -> Result<Self, StoreError> {
        let id = row.id.clone();
        let corrupt = |what: &str| StoreError::Corrupt(format!("tool {id}: bad {what}"));
        fn json<T: serde::de::DeserializeOwned>(
            text: &str,
            what: &str,
            id: &str,
        ) -> Result<T, StoreError> {
            serde_json::from_str(text)
                .map_err(|_| StoreError::Corrupt(format!("tool {id}: bad {what}")))
        }
        fn optional_json(
            text: &Option<String>,
            what: &str,
            id: &str,
        ) -> Result<Option<Value>, StoreError> {
            text.as_deref().map(|t| json(t, what, id)).transpose()
        }
        Ok(Tool {
            id: Uuid::try_parse(&row.id).map_err(|_| corrupt("id"))?,
            name: row.name.clone(),
            title: row.title.clone(),
            description: row.description.clone(),
            category: row.category.clone(),
            tags: json(&row.tags, "tags", &id)?,
            version: row.version.clone(),
            input_schema: json(&row.input_schema, "inputSchema", &id)?,
            output_schema: optional_json(&row.output_schema, "outputSchema", &id)?,
            annotations: optional_json(&row.annotations, "annotations", &id)?,
            icons: optional_json(&row.icons, "icons", &id)?,
            execution: optional_json(&row.execution, "execution", &id)?,
            meta: optional_json(&row.meta, "_meta", &id)?,
            status: ToolStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
            owner_id: Uuid::try_parse(&row.owner_id).map_err(|_| corrupt("ownerId"))?,
            revision: row.revision,
            created_at: Timestamp::from_millis(row.created_at),
            updated_at: Timestamp::from_millis(row.updated_at),
        })
    }
}

fn rows_to_tools(rows: Vec<ToolRow>) -> Result<Vec<Tool>, StoreError> {
    rows.into_iter().map(Tool::try_from).collect()
}

/// A tool of a list page, with the number of candidates the page was cut from and its standing
/// in the search (zeros without one).
#[derive(Deserialize)]
struct PageRow {
    #[serde(flatten)]
    tool: ToolRow,
    candidates: i64,
    exact: i64,
    matched: i64,
    score: i64,
}

/// The search of a page, if any: its terms as ranked and their weights, for the next cursor.
#[derive(Default)]
struct PageSearch {
    terms: Vec<SearchTerm>,
    weights: Option<Vec<(String, i64)>>,
    /// The owner filter is the narrower way in (see [`DataApiToolStore::owns_few`]).
    owner_first: bool,
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("tool fields (strings and JSON values) serialize")
}

impl ToolStore for DataApiToolStore {
    async fn get(&self, id: Uuid) -> Result<Option<Tool>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM tools WHERE id = :id");
        let rows: Vec<ToolRow> = self.db.query(&sql, vec![param("id", id)]).await?;
        Ok(rows_to_tools(rows)?.pop())
    }

    async fn list(
        &self,
        query: &ListQuery,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<ListPage, StoreError> {
        let tools = self.tools_page(query, after, limit).await?;
        if !changes::shows_deletions(query) {
            return Ok(tools);
        }
        let deleted = self.deleted_since(query, after, limit).await?;
        Ok(changes::merge_deletions(query, tools, deleted, limit))
    }

    async fn insert(&self, tool: &Tool, record: WriteRecord<'_>) -> Result<(), StoreError> {
        let write = record.id;
        let sql = insert_tools_sql(1);
        let evidence = OutboxRow(write);
        let mut attempts = self.db.write_attempts(&evidence);
        loop {
            let tx = attempts.begin().await?;
            let params = new_tool_params(&[tool], write);
            let body = async {
                if let Some(key) = &record.key {
                    idempotency::claim(&tx, key, write).await?;
                }
                tx.execute(&sql, params).await?;
                tool_index::insert(&tx, &[tool]).await?;
                record_invalidation(&tx, record, tool.id, tool.revision).await
            };
            let decided = match body.await {
                // Taken by another tool, or our own insert seen twice: a committed earlier
                // attempt, or a retried statement inside this transaction (its first run's row
                // is not committed, so the lookup outside the transaction finds nobody and the
                // transaction runs again).
                Err(StoreError::Duplicate) => match self.holder_of(tool).await {
                    Ok(Holder::Us(holder)) if holder == write => Ok(Outcome::RollBack(())),
                    Ok(Holder::Us(_) | Holder::Other) => Err(StoreError::Duplicate),
                    Ok(Holder::Nobody) => Err(StoreError::TransactionEnded(
                        "our own insert, retried inside its transaction".into(),
                    )),
                    Err(error) => Err(error),
                },
                other => other.map(Outcome::Commit),
            };
            if let Some(done) = attempts.end(tx, decided).await? {
                return Ok(done);
            }
        }
    }

    async fn update(&self, tool: &Tool, record: WriteRecord<'_>) -> Result<bool, StoreError> {
        let write = record.id;
        let sql = "UPDATE tools SET name = :name, title = :title, description = :description, \
            category = :category, tags = :tags, version = :version, input_schema = :inputSchema, \
            output_schema = :outputSchema, annotations = :annotations, icons = :icons, \
            execution = :execution, meta = :meta, status = :status, revision = :revision, updated_at = :updatedAt, write_id = :writeId \
            WHERE id = :id AND revision = :expectedRevision";
        let evidence = OutboxRow(write);
        let mut attempts = self.db.write_attempts(&evidence);
        loop {
            let tx = attempts.begin().await?;
            let mut params = tool_params(tool);
            params.push(param("writeId", write));
            params.push(param("expectedRevision", tool.revision - 1));
            let body = async {
                if let Some(key) = &record.key {
                    idempotency::claim(&tx, key, write).await?;
                }
                if tx.execute(sql, params).await? == 0 {
                    // The revision moved: a concurrent write, or our own UPDATE that already ran
                    // in this transaction (the SDK retried it after losing its answer).
                    let rows: Vec<WriteRow> = tx
                        .query(
                            "SELECT write_id AS writeId FROM tools WHERE id = :id",
                            vec![param("id", tool.id)],
                        )
                        .await?;
                    if !rows.iter().any(|r| r.is(write)) {
                        return Ok(Outcome::RollBack(false));
                    }
                }
                tool_index::replace(&tx, tool).await?;
                record_invalidation(&tx, record, tool.id, tool.revision).await?;
                Ok(Outcome::Commit(true))
            };
            let decided = body.await;
            if let Some(done) = attempts.end(tx, decided).await? {
                return Ok(done);
            }
        }
    }

    async fn delete(
        &self,
        id: Uuid,
        revision: i64,
        record: WriteRecord<'_>,
    ) -> Result<bool, StoreError> {
        let write = record.id;
        let evidence = OutboxRow(write);
        let mut attempts = self.db.write_attempts(&evidence);
        loop {
            let tx = attempts.begin().await?;
            let body = async {
                if let Some(key) = &record.key {
                    idempotency::claim(&tx, key, write).await?;
                }
                // The tombstone first, from the row as it is (nothing if it changed meanwhile:
                // the DELETE then finds nothing either, and the transaction rolls back).
                tx.execute(
                    &format!(
                        "INSERT INTO tool_tombstones (id, name, revision, owner_id, category, \
                         status, tags, created_at, deleted_at) SELECT id, name, revision + 1, \
                         owner_id, category, status, tags, created_at, {DB_NOW_MS} FROM tools \
                         WHERE id = :id AND revision = :revision \
                         ON DUPLICATE KEY UPDATE tool_tombstones.id = tool_tombstones.id"
                    ),
                    vec![param("id", id), param("revision", revision)],
                )
                .await?;
                let deleted = tx
                    .execute(
                        "DELETE FROM tools WHERE id = :id AND revision = :revision",
                        vec![param("id", id), param("revision", revision)],
                    )
                    .await?;
                if deleted == 0 {
                    // Gone already (our own DELETE retried by the SDK, or a concurrent delete:
                    // either way the tool is deleted), or changed meanwhile.
                    let rows: Vec<WriteRow> = tx
                        .query(
                            "SELECT write_id AS writeId FROM tools WHERE id = :id",
                            vec![param("id", id)],
                        )
                        .await?;
                    if !rows.is_empty() {
                        return Ok(Outcome::RollBack(false));
                    }
                }
                tool_index::delete(&tx, id).await?;
                record_invalidation(&tx, record, id, DELETED_REVISION).await?;
                Ok(Outcome::Commit(true))
            };
            let decided = body.await;
            if let Some(done) = attempts.end(tx, decided).await? {
                return Ok(done);
            }
        }
    }

    async fn pending_invalidations(
        &self,
        after_seq: i64,
        min_age: Duration,
        limit: u32,
    ) -> Result<Vec<Invalidation>, StoreError> {
        // A range of the pending rows' index (applied_at, seq), whatever the applied rows kept
        // for their retention.
        self.db
            .query(
                &format!(
                    "SELECT {INVALIDATION_COLUMNS} FROM cache_outbox \
                     WHERE applied_at IS NULL AND seq > :after \
                     AND created_at <= {DB_NOW_MS} - :minAge ORDER BY seq LIMIT :limit"
                ),
                vec![
                    param("after", after_seq),
                    param("minAge", millis(min_age)),
                    param("limit", i64::from(limit)),
                ],
            )
            .await
    }

    async fn invalidations_after(
        &self,
        after_seq: i64,
        min_age: Duration,
        limit: u32,
    ) -> Result<Vec<Invalidation>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            settled: i64,
            #[serde(flatten)]
            invalidation: Invalidation,
        }
        // A range of the primary key.
        let rows: Vec<Row> = self
            .db
            .query(
                &format!(
                    "SELECT {INVALIDATION_COLUMNS}, \
                     created_at <= {DB_NOW_MS} - :minAge AS settled FROM cache_outbox \
                     WHERE seq > :after ORDER BY seq LIMIT :limit"
                ),
                vec![
                    param("after", after_seq),
                    param("minAge", millis(min_age)),
                    param("limit", i64::from(limit)),
                ],
            )
            .await?;
        Ok(rows
            .into_iter()
            .take_while(|row| row.settled == 1)
            .map(|row| row.invalidation)
            .collect())
    }

    async fn last_seq_before(&self, age: Duration) -> Result<i64, StoreError> {
        #[derive(Deserialize)]
        struct Seq {
            seq: i64,
        }
        // The primary key backwards from the newest row: the rows younger than `age`, then one.
        let rows: Vec<Seq> = self
            .db
            .query(
                &format!(
                    "SELECT seq FROM cache_outbox WHERE created_at <= {DB_NOW_MS} - :age \
                     ORDER BY seq DESC LIMIT 1"
                ),
                vec![param("age", millis(age))],
            )
            .await?;
        Ok(rows.first().map_or(0, |row| row.seq))
    }

    async fn mark_write_applied(&self, write: Uuid) -> Result<(), StoreError> {
        self.db
            .execute(
                &format!(
                    "UPDATE cache_outbox SET applied_at = {DB_NOW_MS} \
                     WHERE write_id = :write AND applied_at IS NULL"
                ),
                vec![param("write", write)],
            )
            .await
            .map(drop)
    }

    async fn mark_applied(&self, seqs: &[i64]) -> Result<(), StoreError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = (0..seqs.len()).map(|i| format!(":s{i}")).collect();
        let sql = format!(
            "UPDATE cache_outbox SET applied_at = {DB_NOW_MS} \
             WHERE seq IN ({}) AND applied_at IS NULL",
            names.join(", ")
        );
        let params = seqs
            .iter()
            .enumerate()
            .map(|(i, seq)| param(&format!("s{i}"), *seq))
            .collect();
        self.db.execute(&sql, params).await.map(drop)
    }

    async fn prune_applied(&self, retention: Duration) -> Result<i64, StoreError> {
        self.db
            .execute(
                &format!(
                    "DELETE FROM cache_outbox WHERE applied_at IS NOT NULL \
                     AND applied_at < {DB_NOW_MS} - :retention LIMIT 1000"
                ),
                vec![param("retention", millis(retention))],
            )
            .await
    }

    async fn keyed_write(
        &self,
        caller: Uuid,
        key: &str,
        retention: Duration,
    ) -> Result<Option<KeyedWrite>, StoreError> {
        idempotency::keyed_write(&self.db, caller, key, retention).await
    }

    async fn prune_keys(&self, retention: Duration) -> Result<i64, StoreError> {
        idempotency::prune(&self.db, retention).await
    }

    async fn deleted_at(
        &self,
        id: Uuid,
        retention: Duration,
    ) -> Result<Option<Timestamp>, StoreError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Row {
            deleted_at: i64,
        }
        let rows: Vec<Row> = self
            .db
            .query(
                &format!(
                    "SELECT deleted_at AS deletedAt FROM tool_tombstones WHERE id = :id \
                     AND deleted_at >= {DB_NOW_MS} - :retention"
                ),
                vec![param("id", id), param("retention", millis(retention))],
            )
            .await?;
        Ok(rows
            .first()
            .map(|row| Timestamp::from_millis(row.deleted_at)))
    }

    async fn prune_tombstones(&self, retention: Duration) -> Result<i64, StoreError> {
        self.db
            .execute(
                &format!(
                    "DELETE FROM tool_tombstones WHERE deleted_at < {DB_NOW_MS} - :retention \
                     LIMIT 1000"
                ),
                vec![param("retention", millis(retention))],
            )
            .await
    }

    async fn backlog(&self) -> Result<OutboxBacklog, StoreError> {
        #[derive(Deserialize)]
        struct Backlog {
            pending: i64,
            oldest: Option<i64>,
        }
        // Both read the pending rows' index (applied_at, seq): at most the cap, and one row.
        let rows: Vec<Backlog> = self
            .db
            .query(
                &format!(
                    "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM cache_outbox \
                       WHERE applied_at IS NULL LIMIT {BACKLOG_COUNT_CAP}) AS p) AS pending, \
                     (SELECT created_at FROM cache_outbox WHERE applied_at IS NULL \
                       ORDER BY seq LIMIT 1) AS oldest"
                ),
                vec![],
            )
            .await?;
        Ok(rows
            .first()
            .map_or_else(OutboxBacklog::default, |b| OutboxBacklog {
                pending: b.pending,
                oldest: b.oldest.map(Timestamp::from_millis),
            }))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WriteRow {
    write_id: Option<String>,
}

impl WriteRow {
    fn is(&self, write: Uuid) -> bool {
        self.write_id
            .as_deref()
            .and_then(|w| Uuid::try_parse(w).ok())
            == Some(write)
    }
}

/// Who holds a new tool's id or name.
enum Holder {
    /// A row with the tool's id, written by this write id (or another, if `None` matched).
    Us(Uuid),
    /// Another tool has the name.
    Other,
    /// Nobody: the insert that collided was our own, in a transaction since rolled back.
    Nobody,
}

impl DataApiToolStore {
    /// One page of tools: up to `limit` after `after`, within the size budget.
    async fn tools_page(
        &self,
        query: &ListQuery,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<ListPage, StoreError> {
        let Some(search) = self.page_search(query, after, limit).await? else {
            return Ok(ListPage::empty());
        };
        // The configured budget first; should the Data API still find the result too large
        // (its accounting is not ours), a quarter of it, then a single tool.
        let budgets = [self.page_bytes, self.page_bytes / 4, 0];
        let mut last = None;
        for budget in budgets {
            match self.list_within(query, after, limit, budget, &search).await {
                Err(StoreError::TooLarge(detail)) => {
                    tracing::warn!(%detail, budget, "list page too large for the Data API; shrinking it");
                    last = Some(StoreError::TooLarge(detail));
                }
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| StoreError::TooLarge("no budget left".into())))
    }

    /// The tools deleted since `query`'s `updatedSince` that its filters take, after `after`, in
    /// its order: at most `limit + 1`.
    async fn deleted_since(
        &self,
        query: &ListQuery,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<DeletedTool>, StoreError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Row {
            id: String,
            name: String,
            revision: i64,
            created_at: i64,
            updated_at: i64,
        }
        let (sql, params) = pages::deletions_statement(&PageRequest {
            query,
            after,
            limit,
            budget: 0,
            time_limit_ms: self.time_limit_ms,
            terms: &[],
            owner_first: false,
        });
        let rows: Vec<Row> = self.db.query(&sql, params).await?;
        rows.into_iter()
            .map(|row| {
                Ok(DeletedTool {
                    id: Uuid::try_parse(&row.id)
                        .map_err(|e| StoreError::Database(format!("a tombstone's id: {e}")))?,
                    name: row.name,
                    revision: row.revision,
                    updated_at: Timestamp::from_millis(row.updated_at),
                    status: DeletedStatus::Deleted,
                    created_at: Timestamp::from_millis(row.created_at),
                })
            })
            .collect()
    }

    /// One page: up to `limit` tools after `after`, and past the first only those that keep the
    /// page's estimated size within `budget` bytes. The candidates (ids and sizes, no documents)
    /// are ranked first, in the page's order, with a running total of their sizes; only the
    /// documents that fit are read. One statement, one snapshot.
    async fn list_within(
        &self,
        query: &ListQuery,
        after: Option<&Cursor>,
        limit: u32,
        budget: u64,
        search: &PageSearch,
    ) -> Result<ListPage, StoreError> {
        let (sql, params) = pages::page_statement(
            COLUMNS,
            &PageRequest {
                query,
                after,
                limit,
                budget,
                time_limit_ms: self.time_limit_ms,
                terms: &search.terms,
                owner_first: search.owner_first,
            },
        );
        let rows: Vec<PageRow> = self.db.query(&sql, params).await?;
        let candidates = rows.first().map_or(0, |row| row.candidates);
        let more = candidates > rows.len() as i64;
        let standing = rows.last().map(|row| [row.exact, row.matched, row.score]);
        let tools: Vec<Tool> = rows
            .into_iter()
            .map(|row| Tool::try_from(row.tool))
            .collect::<Result<_, _>>()?;
        let listed = u32::try_from(tools.len()).unwrap_or(u32::MAX);
        let next = match (tools.last(), standing) {
            (Some(last), Some(standing)) if more => Some(Cursor {
                key: query
                    .sort
                    .key_of(last)
                    .unwrap_or_else(|| SortKey::Rank(standing, last.category.clone())),
                id: last.id,
                weights: search.weights.clone(),
                depth: search.weights.as_ref().map(|_| {
                    after
                        .and_then(|a| a.depth)
                        .unwrap_or(0)
                        .saturating_add(listed)
                }),
            }),
            _ => None,
        };
        Ok(ListPage {
            items: tools
                .into_iter()
                .map(|tool| ListItem::Tool(Box::new(tool)))
                .collect(),
            next,
        })
    }

    async fn holder_of(&self, tool: &Tool) -> Result<Holder, StoreError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Row {
            id: String,
            write_id: Option<String>,
        }
        let rows: Vec<Row> = self
            .db
            .query(
                "SELECT id, write_id AS writeId FROM tools WHERE id = :id OR name = :name",
                vec![param("id", tool.id), param("name", tool.name.as_str())],
            )
            .await?;
        let ours = tool.id.hyphenated().to_string();
        Ok(match rows.iter().find(|r| r.id == ours) {
            Some(row) => Holder::Us(
                row.write_id
                    .as_deref()
                    .and_then(|w| Uuid::try_parse(w).ok())
                    .unwrap_or_default(),
            ),
            None if rows.is_empty() => Holder::Nobody,
            None => Holder::Other,
        })
    }
}

/// A write's commit, recognised by its outbox row (the write id is unique there).
struct OutboxRow(Uuid);

impl CommitEvidence for OutboxRow {
    async fn is_committed(&self, db: &DataApi) -> Result<bool, StoreError> {
        let found: Vec<serde_json::Value> = db
            .query(
                "SELECT seq FROM cache_outbox WHERE write_id = :write",
                vec![param("write", self.0)],
            )
            .await?;
        Ok(!found.is_empty())
    }
}

/// Writes the search and tag index rows of every stored tool, a batch per transaction (tools of
/// earlier versions have none; rows already there are kept). Returns how many tools it read.
pub(super) async fn index_all_tools(db: &DataApi) -> Result<u64, StoreError> {
    const BATCH: i64 = 200;
    let mut after = String::new();
    let mut indexed = 0;
    loop {
        let rows: Vec<ToolRow> = db
            .query(
                &format!("SELECT {COLUMNS} FROM tools WHERE id > :after ORDER BY id LIMIT {BATCH}"),
                vec![param("after", after.as_str())],
            )
            .await?;
        let Some(last) = rows.last() else {
            return Ok(indexed);
        };
        after = last.id.clone();
        let tools = rows_to_tools(rows)?;
        let tx = db.begin().await?;
        let written = tool_index::insert(&tx, &tools.iter().collect::<Vec<_>>()).await;
        match written {
            Ok(()) => tx.commit().await?,
            Err(error) => {
                tx.rollback(ROLLBACK_LIMIT).await;
                return Err(error);
            }
        }
        indexed += tools.len() as u64;
    }
}

/// Copies each tool's category into its term rows and its owner into its tag rows where they
/// differ (rows written before migration 7 have neither), for a thousand tools per statement.
/// Returns the rows changed.
pub(super) async fn copy_filter_columns(db: &DataApi) -> Result<i64, StoreError> {
    #[derive(Deserialize)]
    struct Upto {
        upto: Option<String>,
    }
    const COPIES: [&str; 2] = [
        "UPDATE tool_terms x JOIN tools t ON t.id = x.tool_id SET x.category = t.category \
         WHERE x.tool_id > :after AND x.tool_id <= :upto AND x.category <> t.category",
        "UPDATE tool_tags x JOIN tools t ON t.id = x.tool_id SET x.owner_id = t.owner_id \
         WHERE x.tool_id > :after AND x.tool_id <= :upto AND x.owner_id <> t.owner_id",
    ];
    let mut after = String::new();
    let mut changed = 0;
    loop {
        let batch: Vec<Upto> = db
            .query(
                "SELECT MAX(id) AS upto FROM \
                 (SELECT id FROM tools WHERE id > :after ORDER BY id LIMIT 1000) AS batch",
                vec![param("after", after.as_str())],
            )
            .await?;
        let Some(upto) = batch.into_iter().next().and_then(|b| b.upto) else {
            return Ok(changed);
        };
        for copy in COPIES {
            changed += db
                .execute(
                    copy,
                    vec![param("after", after.as_str()), param("upto", upto.as_str())],
                )
                .await?;
        }
        after = upto;
    }
}

/// The columns of an [`Invalidation`].
const INVALIDATION_COLUMNS: &str = "seq, write_id AS writeId, tool_id AS toolId, revision, scopes";

/// Records the cache consequence of write `write` (idempotent: a retried statement is a no-op).
async fn record_invalidation(
    tx: &Transaction<'_>,
    write: WriteRecord<'_>,
    tool: Uuid,
    revision: i64,
) -> Result<(), StoreError> {
    let scopes = write.scopes.map(|scopes| to_json(&scopes));
    tx.execute(
        &format!(
            "INSERT INTO cache_outbox (write_id, tool_id, revision, scopes, created_at) \
             VALUES (:write, :tool, :revision, :scopes, {DB_NOW_MS}) \
             ON DUPLICATE KEY UPDATE write_id = write_id"
        ),
        vec![
            param("write", write.id),
            param("tool", tool),
            param("revision", revision),
            param("scopes", scopes),
        ],
    )
    .await
    .map(drop)
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn tool_params(tool: &Tool) -> Vec<aws_sdk_rdsdata::types::SqlParameter> {
    vec![
        param("id", tool.id),
        param("name", tool.name.as_str()),
        param("title", tool.title.clone()),
        param("description", tool.description.as_str()),
        param("category", tool.category.as_str()),
        param("tags", to_json(&tool.tags)),
        param("version", tool.version.as_str()),
        param("inputSchema", to_json(&tool.input_schema)),
        param("outputSchema", tool.output_schema.as_ref().map(to_json)),
        param("annotations", tool.annotations.as_ref().map(to_json)),
        param("icons", tool.icons.as_ref().map(to_json)),
        param("execution", tool.execution.as_ref().map(to_json)),
        param("meta", tool.meta.as_ref().map(to_json)),
        param("status", tool.status.as_str()),
        param("ownerId", tool.owner_id),
        param("revision", tool.revision),
        param("createdAt", tool.created_at.millis()),
        param("updatedAt", tool.updated_at.millis()),
    ]
}
