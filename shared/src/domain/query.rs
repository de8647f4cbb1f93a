//! `GET /tools` queries: parsing, the canonical form behind the list cache key, and signed
//! keyset cursors.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use super::tool::{is_category, is_tag, CATEGORY_RULE, STATUS_RULE, TAG_RULE};
use super::{FieldError, Search, Timestamp, Tool, ToolStatus};

/// Default page size.
pub const DEFAULT_LIMIT: u32 = 20;
/// Largest page size.
pub const MAX_LIMIT: u32 = 100;
/// The longest cursor accepted (a search's cursor carries the weights of its terms).
pub const MAX_CURSOR_CHARS: usize = 4096;

/// The order of a list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sort {
    /// `name`, ascending (the default).
    #[default]
    #[serde(rename = "name")]
    NameAsc,
    /// `-name`.
    #[serde(rename = "-name")]
    NameDesc,
    /// `createdAt`.
    #[serde(rename = "createdAt")]
    CreatedAsc,
    /// `-createdAt`.
    #[serde(rename = "-createdAt")]
    CreatedDesc,
    /// `updatedAt`.
    #[serde(rename = "updatedAt")]
    UpdatedAsc,
    /// `-updatedAt`.
    #[serde(rename = "-updatedAt")]
    UpdatedDesc,
    /// `relevance`: best matches of `q` first (the default with `q`).
    #[serde(rename = "relevance")]
    Relevance,
}

impl Sort {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "name" => Self::NameAsc,
            "-name" => Self::NameDesc,
            "createdAt" => Self::CreatedAsc,
            "-createdAt" => Self::CreatedDesc,
            "updatedAt" => Self::UpdatedAsc,
            "-updatedAt" => Self::UpdatedDesc,
            "relevance" => Self::Relevance,
            _ => return None,
        })
    }

    /// Whether the order is descending.
    pub fn descending(self) -> bool {
        matches!(
            self,
            Self::NameDesc | Self::CreatedDesc | Self::UpdatedDesc | Self::Relevance
        )
    }

    /// The position of `tool` in this order, as a cursor records it; `None` for
    /// [`Sort::Relevance`], whose position is the tool's score in the search.
    pub fn key_of(self, tool: &Tool) -> Option<SortKey> {
        match self {
            Self::NameAsc | Self::NameDesc => Some(SortKey::Name(tool.name.clone())),
            Self::CreatedAsc | Self::CreatedDesc => Some(SortKey::Time(tool.created_at.millis())),
            Self::UpdatedAsc | Self::UpdatedDesc => Some(SortKey::Time(tool.updated_at.millis())),
            Self::Relevance => None,
        }
    }
}

/// How a page is shaped (`format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ListFormat {
    /// `{"items", "nextCursor"}` with registry tools (the default).
    #[default]
    Registry,
    /// `format=mcp`: an MCP 2026-07-28 `ListToolsResult` ([`super::mcp_list`]).
    Mcp,
}

/// A parsed, validated `GET /tools` query. Field order is alphabetical: it is the canonical
/// serialization hashed into the cache key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListQuery {
    /// `category` filter.
    pub category: Option<String>,
    /// The opaque cursor of the page asked for.
    pub cursor: Option<String>,
    /// The shape of the answer: left out of the canonical form, as both shapes are rendered
    /// from one page (one cache entry, one cursor).
    #[serde(skip)]
    pub format: ListFormat,
    /// Page size.
    pub limit: u32,
    /// `ownerId` filter.
    #[serde(rename = "ownerId")]
    pub owner_id: Option<Uuid>,
    /// Search text, lowercased and in its canonical spelling ([`Search::canonical`]).
    pub q: Option<String>,
    /// Order.
    pub sort: Sort,
    /// `status` filter.
    pub status: Option<ToolStatus>,
    /// `tag` filter.
    pub tag: Option<String>,
    /// `updatedSince` filter: tools updated at or after this time (epoch milliseconds, rounded
    /// up, so every spelling of one instant is one cache key). Left out of the canonical form
    /// when absent, so the queries (and cursors) of earlier versions keep theirs.
    #[serde(rename = "updatedSince", skip_serializing_if = "Option::is_none")]
    pub updated_since: Option<i64>,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            category: None,
            cursor: None,
            format: ListFormat::default(),
            limit: DEFAULT_LIMIT,
            owner_id: None,
            q: None,
            sort: Sort::default(),
            status: None,
            tag: None,
            updated_since: None,
        }
    }
}

impl ListQuery {
    /// Parses a raw query string. Unknown or repeated parameters and invalid values are refused
    /// with one error per offending parameter.
    pub fn parse(raw: Option<&str>) -> Result<Self, Vec<FieldError>> {
        let mut query = Self::default();
        let mut errors = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        let mut sort_given = false;
        for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            if seen.iter().any(|k| *k == key) {
                errors.push(FieldError::new(key.as_ref(), "is given more than once"));
                continue;
            }
            seen.push(key.to_string());
            let v = value.as_ref();
            let result: Result<(), &str> = match key.as_ref() {
                "category" if is_category(v) => {
                    query.category = Some(v.to_owned());
                    Ok(())
                }
                "category" => Err(CATEGORY_RULE),
                "tag" if is_tag(v) => {
                    query.tag = Some(v.to_owned());
                    Ok(())
                }
                "tag" => Err(TAG_RULE),
                "status" => ToolStatus::parse(v)
                    .map(|s| query.status = Some(s))
                    .ok_or(STATUS_RULE),
                "ownerId" => Uuid::try_parse(v)
                    .map(|id| query.owner_id = Some(id))
                    .map_err(|_| "must be a UUID"),
                "q" => {
                    let n = v.chars().count();
                    if (1..=100).contains(&n) {
                        query.q = Some(Search::canonical(&v.to_lowercase()));
                        Ok(())
                    } else {
                        Err("must be 1 to 100 characters long")
                    }
                }
                "updatedSince" => Timestamp::parse_rfc3339_ceil(v)
                    .map(|t| query.updated_since = Some(t.millis()))
                    .ok_or("must be an RFC 3339 time, such as 2026-11-23T22:00:00Z"),
                "sort" => {
                    sort_given = true;
                    Sort::parse(v).map(|s| query.sort = s).ok_or(
                        "must be one of relevance, name, -name, createdAt, -createdAt, \
                         updatedAt, -updatedAt",
                    )
                }
                "limit" => match v.parse::<u32>() {
                    Ok(n) if (1..=MAX_LIMIT).contains(&n) => {
                        query.limit = n;
                        Ok(())
                    }
                    _ => Err("must be an integer from 1 to 100"),
                },
                "cursor" if !v.is_empty() && v.len() <= MAX_CURSOR_CHARS => {
                    query.cursor = Some(v.to_owned());
                    Ok(())
                }
                "cursor" => Err("is not a cursor issued by this API"),
                "format" if v == "mcp" => {
                    query.format = ListFormat::Mcp;
                    Ok(())
                }
                "format" => Err("must be mcp (or left out)"),
                _ => Err("is not a parameter of this route"),
            };
            if let Err(message) = result {
                errors.push(FieldError::new(key.as_ref(), message));
            }
        }
        match (&query.q, query.sort, sort_given) {
            (Some(_), _, false) => query.sort = Sort::Relevance,
            (None, Sort::Relevance, _) => errors.push(FieldError::new(
                "sort",
                "relevance orders the matches of q; give q",
            )),
            _ => {}
        }
        if errors.is_empty() {
            Ok(query)
        } else {
            Err(errors)
        }
    }

    /// The deterministic serialization of this query (defaults spelled out, keys sorted).
    pub fn canonical(&self) -> String {
        serde_json::to_string(self).expect("a query (strings, numbers, enums) serializes")
    }

    /// The parsed search, when `q` is given.
    pub fn search(&self) -> Option<Search> {
        self.q.as_deref().map(Search::parse)
    }

    /// The filters and order without the page position: what a cursor is bound to.
    pub fn scope(&self) -> String {
        let scope = Self {
            cursor: None,
            limit: DEFAULT_LIMIT,
            ..self.clone()
        };
        scope.canonical()
    }
}

/// A position in an order: the last item's sort value and id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortKey {
    /// A name (unique on its own).
    Name(String),
    /// Epoch milliseconds (ties broken by id).
    Time(i64),
    /// A standing in a search: whether the name matched exactly, how many words matched and
    /// the score, then the category (ties broken by id). Within one score the category comes
    /// first because a term's candidates are read in that order (its postings index).
    Rank([i64; 3], String),
}

/// Where the next page starts: strictly after this item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The last item's sort value.
    #[serde(rename = "k")]
    pub key: SortKey,
    /// The last item's id.
    #[serde(rename = "i")]
    pub id: Uuid,
    /// Of a search: the weight of each of its terms on its first page, so every later page
    /// ranks with the same weights (and need not count them again).
    #[serde(rename = "w", default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<(String, i64)>>,
    /// Of a search: how many tools the pages before this one listed, so the next page ranks at
    /// least as many candidates as it goes deep.
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<u32>,
}

#[derive(Serialize, Deserialize)]
struct CursorPayload {
    #[serde(rename = "s")]
    scope: String,
    #[serde(flatten)]
    cursor: Cursor,
}

/// Encodes and checks cursors: base64url JSON plus an HMAC-SHA256 tag binding it to the query's
/// filters and order, so a forged, altered or foreign cursor is refused.
#[derive(Clone)]
pub struct CursorCodec {
    mac: Hmac<Sha256>,
}

impl CursorCodec {
    /// A codec keyed from `secret` (domain-separated from any other use of it).
    pub fn new(secret: &[u8]) -> Self {
        let mut derive = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key");
        derive.update(b"mcp-registry list cursor v1");
        let key = derive.finalize().into_bytes();
        Self {
            mac: <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key"),
        }
    }

    fn scope_digest(query: &ListQuery) -> String {
        hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(query.scope().as_bytes())[..12])
    }

    /// The opaque cursor of the page after `cursor` in `query`.
    pub fn encode(&self, query: &ListQuery, cursor: Cursor) -> String {
        let payload = CursorPayload {
            scope: Self::scope_digest(query),
            cursor,
        };
        let body = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&payload).expect("a cursor (strings and numbers) serializes"),
        );
        let mut mac = self.mac.clone();
        mac.update(body.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..16]);
        format!("{body}.{tag}")
    }

    /// The position `query.cursor` points at, `Ok(None)` without a cursor, or an error when the
    /// cursor was not issued by this API for this query.
    pub fn decode(&self, query: &ListQuery) -> Result<Option<Cursor>, FieldError> {
        let Some(text) = query.cursor.as_deref() else {
            return Ok(None);
        };
        let invalid = || FieldError::new("cursor", "is not a cursor issued for this query");
        let (body, tag) = text.split_once('.').ok_or_else(invalid)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
        let mut mac = self.mac.clone();
        mac.update(body.as_bytes());
        mac.verify_truncated_left(&tag).map_err(|_| invalid())?;
        if tag.len() != 16 {
            return Err(invalid());
        }
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| invalid())?;
        let payload: CursorPayload = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if payload.scope != Self::scope_digest(query) {
            return Err(invalid());
        }
        let consistent = matches!(
            (&payload.cursor.key, query.sort),
            (SortKey::Name(_), Sort::NameAsc | Sort::NameDesc)
                | (
                    SortKey::Time(_),
                    Sort::CreatedAsc | Sort::CreatedDesc | Sort::UpdatedAsc | Sort::UpdatedDesc
                )
                | (SortKey::Rank(..), Sort::Relevance)
        );
        if !consistent {
            return Err(invalid());
        }
        Ok(Some(payload.cursor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> ListQuery {
        ListQuery::parse(Some(raw)).unwrap()
    }

    #[test]
    fn equivalent_queries_are_equal() {
        assert_eq!(
            parse("tag=x&category=y").canonical(),
            parse("category=y&tag=x&limit=20&sort=name").canonical()
        );
        assert_eq!(parse("q=HeLLo").canonical(), parse("q=hello").canonical());
        assert_eq!(parse("").canonical(), ListQuery::default().canonical());
        assert_eq!(
            parse("updatedSince=2026-11-23T22:00:00.123Z").canonical(),
            parse("updatedSince=2026-11-23T23:00:00.1225%2B01:00").canonical()
        );
        assert_ne!(
            parse("updatedSince=2026-11-23T22:00:00.123Z").canonical(),
            parse("updatedSince=2026-11-23T22:00:00.124Z").canonical()
        );
        assert_ne!(
            parse("updatedSince=2026-11-23T22:00:00Z").canonical(),
            parse("").canonical()
        );
        // The form every cursor issued before `updatedSince` existed is bound to.
        assert_eq!(
            parse("").canonical(),
            r#"{"category":null,"cursor":null,"limit":20,"ownerId":null,"q":null,"sort":"name","status":null,"tag":null}"#
        );
    }

    #[test]
    fn unknown_repeated_and_invalid_parameters_are_refused() {
        for raw in [
            "page=2",
            "tag=a&tag=b",
            "limit=0",
            "limit=101",
            "sort=size",
            "ownerId=x",
            "q=",
            "updatedSince=yesterday",
            "updatedSince=2026-11-23",
            "updatedSince=2026-11-23T22:00:00",
            "format=json",
            "format=MCP",
            "format=mcp&format=mcp",
        ] {
            assert!(ListQuery::parse(Some(raw)).is_err(), "{raw}");
        }
    }

    #[test]
    fn the_mcp_format_shares_the_page_its_cache_entry_and_its_cursors() {
        let mcp = parse("format=mcp&tag=api");
        let registry = parse("tag=api");
        assert_eq!(mcp.format, ListFormat::Mcp);
        assert_eq!(registry.format, ListFormat::Registry);
        assert_eq!(mcp.canonical(), registry.canonical());
        assert_eq!(mcp.scope(), registry.scope());
    }

    #[test]
    fn cursors_round_trip_and_reject_forgery_and_other_queries() {
        let codec = CursorCodec::new(b"secret-secret-secret-secret-secret");
        let query = parse("category=search");
        let cursor = Cursor {
            key: SortKey::Name("abc".into()),
            id: Uuid::nil(),
            weights: None,
            depth: None,
        };
        let text = codec.encode(&query, cursor.clone());
        let with = |c: &str| ListQuery {
            cursor: Some(c.to_owned()),
            ..query.clone()
        };
        assert_eq!(codec.decode(&with(&text)).unwrap(), Some(cursor));
        let mut forged = text.clone();
        forged.insert(3, 'A');
        assert!(codec.decode(&with(&forged)).is_err());
        let other = ListQuery {
            cursor: Some(text.clone()),
            category: Some("other".into()),
            ..query.clone()
        };
        assert!(codec.decode(&other).is_err());
        let other_key = CursorCodec::new(b"another-secret-another-secret-xx");
        assert!(other_key.decode(&with(&text)).is_err());
    }
}
