//! The terms of a search and their weights, read from the index on a search's first page (later
//! pages take them from the cursor, so every page ranks alike).

use serde_json::{Map, Value as Json};

use super::pages::SearchTerm;
use super::{param, DataApi, StoreError};
use crate::domain::search::{Search, DF_CAP, MAX_PREFIX_TERMS};

/// Each term of `search` found in the index, with its weight (`0` for the whole-name term, which
/// ranks by itself): its words, the first [`MAX_PREFIX_TERMS`] terms its last word is a prefix
/// of, and the tool name it could be. Two statements, each reading a bounded index range.
pub(super) async fn weigh(
    db: &DataApi,
    search: &Search,
    time_limit_ms: u64,
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut expansions = Vec::new();
    if let Some(prefix) = &search.prefix {
        #[derive(serde::Deserialize)]
        struct Term {
            term: String,
        }
        let found: Vec<Term> = db
            .query(
                &format!(
                    "SELECT /*+ MAX_EXECUTION_TIME({time_limit_ms}) */ term FROM search_terms \
                     WHERE term LIKE :prefix ORDER BY term LIMIT {MAX_PREFIX_TERMS}"
                ),
                // Search words are letters and digits only: nothing to escape.
                vec![param("prefix", format!("{prefix}%"))],
            )
            .await?;
        expansions = found.into_iter().map(|t| t.term).collect();
    }
    let terms = search.terms(expansions);
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let counts: Vec<String> = (0..terms.len())
        .map(|i| {
            format!(
                "(SELECT COUNT(*) FROM (SELECT 1 FROM tool_terms WHERE term = :t{i} \
                 LIMIT {DF_CAP}) AS c{i}) AS d{i}"
            )
        })
        .collect();
    let params = terms
        .iter()
        .enumerate()
        .map(|(i, term)| param(&format!("t{i}"), term.as_str()))
        .collect();
    let rows: Vec<Map<String, Json>> = db
        .query(
            &format!(
                "SELECT /*+ MAX_EXECUTION_TIME({time_limit_ms}) */ {}",
                counts.join(", ")
            ),
            params,
        )
        .await?;
    let row = rows
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::Corrupt("term counts: no row".into()))?;
    let mut df = std::collections::HashMap::new();
    for (i, term) in terms.iter().enumerate() {
        let count = row
            .get(&format!("d{i}"))
            .and_then(Json::as_i64)
            .ok_or_else(|| StoreError::Corrupt("term counts: not a number".into()))?;
        df.insert(term.clone(), count);
    }
    Ok(search.weigh(terms, |term| df.get(term).copied().unwrap_or(0)))
}

/// The terms of `search` weighed `weights`, as the page statement ranks them: each word
/// contributes `per_word` candidates, which the terms of the prefix share.
pub(super) fn page_terms(
    search: &Search,
    weights: &[(String, i64)],
    per_word: u32,
) -> Vec<SearchTerm> {
    let expansions = weights
        .iter()
        .filter(|(term, _)| !search.words.contains(term) && Some(term) != search.name.as_ref())
        .count()
        .max(1) as u32;
    weights
        .iter()
        .map(|(term, weight)| {
            let (position, candidates) = if Some(term) == search.name.as_ref() {
                (-1, per_word)
            } else if let Some(i) = search.words.iter().position(|w| w == term) {
                (i as i64, per_word)
            } else {
                (
                    search.prefix_position() as i64,
                    (per_word / expansions).max(1),
                )
            };
            SearchTerm {
                text: term.clone(),
                position,
                weight: *weight,
                candidates,
            }
        })
        .collect()
}
