//! Word search: how a tool and a query are cut into terms, what a term weighs in a tool, and how
//! a query's matches are ranked. The store keeps the terms in an index; these rules are the same
//! for every store.
//!
//! A *term* is a lowercased run of letters and digits (at most [`MAX_TERM_CHARS`]), and each
//! camelCase part of it: `github_create_issue` holds `github`, `create` and `issue`;
//! `createIssue` holds `createissue`, `create` and `issue`. A tool's whole name, lowercased, is
//! also a term of its own ([`name_term`]), so an exact name match can rank first.

use std::collections::BTreeMap;

use super::tool::is_tool_name;
use super::Tool;

/// Terms are cut to this many characters (in the index and in queries alike).
pub const MAX_TERM_CHARS: usize = 64;
/// The shortest last word that is also matched as a prefix.
pub const MIN_PREFIX_CHARS: usize = 2;
/// At most this many words of a query count; the rest are ignored.
pub const MAX_QUERY_WORDS: usize = 8;
/// A prefix stands for at most this many terms (the first in term order).
pub const MAX_PREFIX_TERMS: usize = 8;
/// Document frequencies are counted up to this many tools: a word at least this common weighs
/// the least, and counting it costs a bounded index range.
pub const DF_CAP: i64 = 1_000;

/// What a term weighs in a tool, by the field it occurs in (summed over the fields): a word of
/// the name or title says more about the tool than one of its description.
pub const NAME_WEIGHT: i64 = 6;
/// See [`NAME_WEIGHT`].
pub const TITLE_WEIGHT: i64 = 4;
/// See [`NAME_WEIGHT`].
pub const TAG_WEIGHT: i64 = 4;
/// See [`NAME_WEIGHT`].
pub const DESCRIPTION_WEIGHT: i64 = 1;

/// Words too common in English to tell tools apart; they are neither indexed nor searched.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "for", "from", "has", "have", "in",
    "into", "is", "it", "its", "of", "on", "or", "that", "the", "their", "then", "this", "to",
    "was", "were", "will", "with", "you", "your",
];

fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// The term of a tool's whole name: `=` and the name lowercased (never a word: words are letters
/// and digits only).
pub fn name_term(name: &str) -> String {
    format!("={}", name.to_lowercase())
}

/// Calls `each` with every term of `text`: each lowercased run of letters and digits, and its
/// camelCase parts when it has several. Stop words and single characters are left out.
fn for_each_term(text: &str, mut each: impl FnMut(String)) {
    for run in text.split(|c: char| !c.is_alphanumeric()) {
        if run.is_empty() {
            continue;
        }
        let parts = camel_parts(run);
        if parts.len() > 1 {
            for part in &parts {
                emit(part, &mut each);
            }
        }
        emit(run, &mut each);
    }
}

fn emit(word: &str, each: &mut impl FnMut(String)) {
    let term: String = word.to_lowercase().chars().take(MAX_TERM_CHARS).collect();
    if term.chars().count() >= 2 && !is_stop_word(&term) {
        each(term);
    }
}

/// `createIssue` → `create`, `Issue`; `HTTPServer` → `HTTP`, `Server`; `v2Api` → `v2`, `Api`.
fn camel_parts(run: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = run.char_indices().collect();
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 1..chars.len() {
        let (at, c) = chars[i];
        let prev = chars[i - 1].1;
        let next_lower = chars.get(i + 1).is_some_and(|(_, n)| n.is_lowercase());
        let boundary = c.is_uppercase()
            && ((prev.is_lowercase() || prev.is_numeric()) || (prev.is_uppercase() && next_lower));
        if boundary {
            parts.push(&run[start..at]);
            start = at;
        }
    }
    parts.push(&run[start..]);
    parts
}

/// The index terms of `tool`, each with its weight in the tool, in term order; the whole-name
/// term ([`name_term`]) is among them.
pub fn index_terms(tool: &Tool) -> Vec<(String, i64)> {
    let mut terms: BTreeMap<String, i64> = BTreeMap::new();
    let mut field = |text: &str, weight: i64| {
        let mut seen = Vec::new();
        for_each_term(text, |term| {
            if !seen.contains(&term) {
                seen.push(term);
            }
        });
        for term in seen {
            *terms.entry(term).or_default() += weight;
        }
    };
    field(&tool.name, NAME_WEIGHT);
    field(tool.title.as_deref().unwrap_or(""), TITLE_WEIGHT);
    field(&tool.tags.join(" "), TAG_WEIGHT);
    field(&tool.description, DESCRIPTION_WEIGHT);
    terms.insert(name_term(&tool.name), NAME_WEIGHT);
    terms.into_iter().collect()
}

/// Every weight a term row can have, ascending: a term weighs the sum of the weights of the
/// fields holding it, so each non-empty set of fields gives one. A search within a category
/// walks these (`weight IN (…)`), each a range of the postings index.
pub fn term_weights() -> Vec<i64> {
    let fields = [NAME_WEIGHT, TITLE_WEIGHT, TAG_WEIGHT, DESCRIPTION_WEIGHT];
    let mut sums: Vec<i64> = (1..1_u32 << fields.len())
        .map(|set| {
            (0..fields.len())
                .filter(|i| set & (1 << i) != 0)
                .map(|i| fields[i])
                .sum()
        })
        .collect();
    sums.sort_unstable();
    sums.dedup();
    sums
}

/// How much a word found in `df` tools (counted up to [`DF_CAP`]) weighs: rarer words more,
/// from 69 for a word of one tool down to 7 for a word of [`DF_CAP`] or more.
pub fn word_weight(df: i64) -> i64 {
    let df = df.clamp(1, DF_CAP) as f64;
    (10.0 * (1.0 + DF_CAP as f64 / df).ln()).round() as i64
}

/// A search, parsed from the `q` of a list query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Search {
    /// The distinct words a tool must hold to match fully (stop words left out).
    pub words: Vec<String>,
    /// The last word, matched also as the prefix of longer terms (type-ahead); `None` when it is
    /// shorter than [`MIN_PREFIX_CHARS`].
    pub prefix: Option<String>,
    /// The whole-name term ([`name_term`]) when `q` could be a tool's name.
    pub name: Option<String>,
}

impl Search {
    /// Parses lowercased search text.
    pub fn parse(q: &str) -> Self {
        let q = q.trim();
        let mut words: Vec<String> = Vec::new();
        let mut last = None;
        for run in q
            .split(|c: char| !c.is_alphanumeric())
            .filter(|r| !r.is_empty())
        {
            let word: String = run.chars().take(MAX_TERM_CHARS).collect();
            last = Some(word.clone());
            if word.chars().count() >= 2 && !is_stop_word(&word) && !words.contains(&word) {
                words.push(word);
            }
        }
        words.truncate(MAX_QUERY_WORDS);
        let prefix = last.filter(|w| w.chars().count() >= MIN_PREFIX_CHARS);
        let name = is_tool_name(q).then(|| name_term(q));
        Self {
            words,
            prefix,
            name,
        }
    }

    /// The terms the search looks up, in order: its words, then the first
    /// [`MAX_PREFIX_TERMS`] of `expansions` (the indexed terms its prefix begins, in term order)
    /// not among them, then the whole name it could be.
    pub fn terms(&self, expansions: impl IntoIterator<Item = String>) -> Vec<String> {
        let mut terms = self.words.clone();
        for term in expansions.into_iter().take(MAX_PREFIX_TERMS) {
            if !terms.contains(&term) {
                terms.push(term);
            }
        }
        terms.extend(self.name.clone());
        terms
    }

    /// Each of `terms` with its weight, given how many tools hold it (`df`, counted up to
    /// [`DF_CAP`]); terms no tool holds are left out, the whole-name term weighs 0 (it ranks by
    /// itself).
    pub fn weigh(&self, terms: Vec<String>, df: impl Fn(&str) -> i64) -> Vec<(String, i64)> {
        terms
            .into_iter()
            .filter_map(|term| {
                let count = df(&term);
                if count == 0 {
                    return None;
                }
                let weight = if self.name.as_ref() == Some(&term) {
                    0
                } else {
                    word_weight(count)
                };
                Some((term, weight))
            })
            .collect()
    }

    /// Its terms weighed over the catalogue `tools`, as the index counts them: the reference
    /// the stores answer like (the in-memory store and the tests' models use it).
    pub fn weigh_over<'a>(&self, tools: impl IntoIterator<Item = &'a Tool>) -> Vec<(String, i64)> {
        let mut df: BTreeMap<String, i64> = BTreeMap::new();
        for tool in tools {
            for (term, _) in index_terms(tool) {
                *df.entry(term).or_default() += 1;
            }
        }
        let expansions = match &self.prefix {
            Some(prefix) => df
                .keys()
                .filter(|term| term.starts_with(prefix.as_str()) && !term.starts_with('='))
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        let terms = self.terms(expansions);
        self.weigh(terms, |term| df.get(term).copied().unwrap_or(0).min(DF_CAP))
    }

    /// Whether the search can match anything.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.prefix.is_none() && self.name.is_none()
    }

    /// How many word positions [`Scored::matched`] counts: one per word, and one for the
    /// prefix unless its word is one of them.
    pub fn positions(&self) -> usize {
        self.words.len() + usize::from(self.prefix_position() == self.words.len())
    }

    /// The position the prefix's terms count for.
    pub fn prefix_position(&self) -> usize {
        match &self.prefix {
            Some(prefix) => self
                .words
                .iter()
                .position(|w| w == prefix)
                .unwrap_or(self.words.len()),
            None => usize::MAX,
        }
    }

    /// The canonical spelling of lowercased search text `q`: what cannot change the answer
    /// (the order of all words but the last, repeats, spacing and punctuation) is normalised
    /// away, so equivalent searches share one cache entry. Text that could be a tool name is kept
    /// as it is (it may match that name exactly).
    pub fn canonical(q: &str) -> String {
        let q = q.trim();
        if is_tool_name(q) {
            return q.to_owned();
        }
        let runs: Vec<&str> = q
            .split(|c: char| !c.is_alphanumeric())
            .filter(|r| !r.is_empty())
            .collect();
        let Some((last, rest)) = runs.split_last() else {
            return String::new();
        };
        let mut rest: Vec<&str> = rest.to_vec();
        rest.sort_unstable();
        rest.dedup();
        rest.push(last);
        rest.join(" ")
    }
}

/// A tool's standing in a search: the ranking key of the relevance order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Scored {
    /// Whether the search is the tool's whole name.
    pub exact: bool,
    /// How many of the search's words (or its prefix) the tool holds.
    pub matched: i64,
    /// The sum over the matched words of the word's weight times its weight in the tool.
    pub score: i64,
}

/// Scores `tool` against `search`, whose terms (words, the terms its prefix stands for, the
/// whole name) weigh `weights`; terms not there do not count. `None` when the tool holds none.
pub fn score(tool: &Tool, search: &Search, weights: &BTreeMap<String, i64>) -> Option<Scored> {
    let mut best = vec![0_i64; search.positions()];
    let mut exact = false;
    for (term, in_tool) in index_terms(tool) {
        let Some(weight) = weights.get(&term) else {
            continue;
        };
        if search.name.as_ref() == Some(&term) {
            exact = true;
            continue;
        }
        let position = search
            .words
            .iter()
            .position(|w| *w == term)
            .unwrap_or_else(|| search.prefix_position());
        if let Some(best) = best.get_mut(position) {
            *best = (*best).max(in_tool * weight);
        }
    }
    let matched = best.iter().filter(|s| **s > 0).count() as i64;
    (exact || matched > 0).then(|| Scored {
        exact,
        matched,
        score: best.iter().sum(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms_of(text: &str) -> Vec<String> {
        let mut terms = Vec::new();
        for_each_term(text, |t| terms.push(t));
        terms
    }

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn names_split_at_separators_and_camel_case() {
        assert_eq!(
            terms_of("github_create_issue"),
            ["github", "create", "issue"]
        );
        assert_eq!(terms_of("createIssue"), ["create", "issue", "createissue"]);
        assert_eq!(
            terms_of("HTTPServer.v2Api"),
            ["http", "server", "httpserver", "v2", "api", "v2api"]
        );
        assert_eq!(terms_of("fs/read-file"), ["fs", "read", "file"]);
        assert_eq!(
            terms_of("Send an e-mail to the team"),
            ["send", "mail", "team"]
        );
        assert_eq!(terms_of("Größe Ärger"), ["größe", "ärger"]);
    }

    #[test]
    fn searches_keep_words_prefix_and_name() {
        let search = Search::parse("send email with attachment");
        assert_eq!(search.words, ["send", "email", "attachment"]);
        assert_eq!(search.prefix.as_deref(), Some("attachment"));
        assert_eq!(search.name, None);
        assert_eq!(search.positions(), 3);
        let search = Search::parse("github_create_issue");
        assert_eq!(search.words, ["github", "create", "issue"]);
        assert_eq!(search.name.as_deref(), Some("=github_create_issue"));
        let search = Search::parse("read the");
        assert_eq!(search.words, ["read"]);
        assert_eq!(search.prefix.as_deref(), Some("the"));
        assert_eq!((search.positions(), search.prefix_position()), (2, 1));
        assert!(Search::parse("a").words.is_empty() && Search::parse("! ?").is_empty());
    }

    #[test]
    fn canonical_searches_ignore_what_cannot_change_the_answer() {
        assert_eq!(
            Search::canonical("email send  attachment"),
            "email send attachment"
        );
        assert_eq!(
            Search::canonical("send, email attachment"),
            "email send attachment"
        );
        assert_eq!(
            Search::canonical("send send email attachment"),
            "email send attachment"
        );
        assert_ne!(
            Search::canonical("send attachment"),
            Search::canonical("attachment send")
        );
        assert_eq!(
            Search::canonical("github_create_issue"),
            "github_create_issue"
        );
        assert_eq!(Search::canonical(" ? "), "");
    }

    #[test]
    fn every_term_weight_is_one_the_category_walk_visits() {
        let weights = term_weights();
        assert_eq!(weights, [1, 4, 5, 6, 7, 8, 9, 10, 11, 14, 15]);
        // "echo" in each set of the fields name, title, tags and description.
        for set in 0_u32..16 {
            let holds = |field: u32, text: &str| {
                if set & (1 << field) != 0 {
                    format!("{text} echo")
                } else {
                    text.to_owned()
                }
            };
            let body = serde_json::json!({
                "name": holds(0, "tool").replace(' ', "_"),
                "title": holds(1, "Tool"),
                "tags": if set & 4 != 0 { vec!["echo"] } else { vec!["misc"] },
                "description": holds(3, "Does things."),
                "inputSchema": {"type": "object"},
            });
            let tool = crate::domain::ToolChanges::for_create(&body)
                .expect("a valid tool")
                .into_new_tool(
                    uuid::Uuid::nil(),
                    uuid::Uuid::nil(),
                    crate::domain::Timestamp::now(),
                );
            for (term, weight) in index_terms(&tool) {
                assert!(
                    weights.contains(&weight),
                    "{term} weighs {weight} in set {set}"
                );
            }
        }
    }

    #[test]
    fn rarer_words_weigh_more() {
        assert_eq!(word_weight(1), 69);
        assert_eq!(word_weight(DF_CAP), 7);
        assert_eq!(word_weight(DF_CAP * 10), 7);
        assert!(word_weight(10) > word_weight(100));
    }
}
