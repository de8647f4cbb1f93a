//! Word search through the API: a labelled set of tools and task queries (`tests/data/`), exact
//! names, several words, prefixes and split names, a property (paging a search to its end yields
//! exactly the tools that hold its words, each once, best first), and the migration that indexes
//! the tools of earlier versions.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use integration_tests::{redis_url, test_config, TestApp};
use proptest::prelude::*;
use serde_json::{json, Value};
use shared::domain::search::{self, Scored, Search};
use shared::domain::{Timestamp, Tool, ToolChanges};
use uuid::Uuid;

/// The labelled set.
fn labelled() -> Value {
    serde_json::from_str(include_str!("../data/search.json")).expect("tests/data/search.json")
}

/// Creates `tools` (each completed into a valid body) as one user.
async fn create_all(app: &TestApp, tools: &[Value]) {
    let (token, _) = app.user().await;
    for tool in tools {
        let mut body = tool.clone();
        body["inputSchema"] = json!({"type": "object"});
        app.create(&token, &body).await;
    }
}

/// The names of the items of every page of `query`, following `nextCursor` to the end.
async fn walk(app: &TestApp, query: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut path = format!("/tools?{query}");
    loop {
        let response = app.get(&path).await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "{path}: {}",
            response.text()
        );
        let page = response.json();
        names.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|tool| tool["name"].as_str().unwrap().to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/tools?{query}&cursor={cursor}"),
            None => return names,
        }
    }
}

fn encoded(q: &str) -> String {
    form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

#[tokio::test]
async fn task_queries_rank_the_right_tool_first_and_the_related_ones_close() {
    let app = TestApp::start().await;
    let set = labelled();
    create_all(&app, set["tools"].as_array().unwrap()).await;
    let mut misses = Vec::new();
    for case in set["queries"].as_array().unwrap() {
        let q = case["q"].as_str().unwrap();
        let names = walk(&app, &format!("q={}&limit=5", encoded(q))).await;
        let first = case["first"].as_str().unwrap();
        if names.first().map(String::as_str) != Some(first) {
            misses.push(format!("{q:?}: first {first}, got {names:?}"));
        }
        for expected in case["top5"].as_array().unwrap() {
            let expected = expected.as_str().unwrap();
            if !names.iter().take(5).any(|n| n == expected) {
                misses.push(format!("{q:?}: {expected} not in the top 5 of {names:?}"));
            }
        }
    }
    assert!(misses.is_empty(), "{}", misses.join("\n"));
}

#[tokio::test]
async fn exact_names_split_names_several_words_and_prefixes() {
    let app = TestApp::start().await;
    let mut tools = Vec::new();
    for (name, description) in [
        ("createIssue", "Files a bug report"),
        (
            "create_issue_template",
            "Issue templates: create one for a repository",
        ),
        ("issue.create", "Create an issue"),
        ("bulk-create-issues", "Create issues in bulk"),
        ("notes", "Create a note about an issue"),
        ("unrelated", "Reads the weather"),
    ] {
        tools.push(json!({"name": name, "description": description, "category": "testing"}));
    }
    create_all(&app, &tools).await;
    let names = |q: &str| {
        let app = &app;
        let q = encoded(q);
        async move { walk(app, &format!("q={q}")).await }
    };
    // An exact name ranks first, whatever its words weigh; names match case-insensitively.
    assert_eq!(names("issue.create").await[0], "issue.create");
    assert_eq!(names("CREATEISSUE").await[0], "createIssue");
    // camelCase and separators split names into words.
    let found = names("issue").await;
    assert!(found.contains(&"createIssue".to_owned()), "{found:?}");
    assert!(
        found.contains(&"create_issue_template".to_owned()),
        "{found:?}"
    );
    // Several words: the tools holding all of them first, those holding some after them.
    let found = names("bug report").await;
    assert_eq!(found, ["createIssue"], "description words");
    let found = names("template create").await;
    assert_eq!(found[0], "create_issue_template");
    assert_eq!(found.len(), 5, "one word is enough to be listed: {found:?}");
    // The last word is also a prefix: `issu` finds every issue tool, `issues` too.
    let found: BTreeSet<String> = names("issu").await.into_iter().collect();
    assert_eq!(found.len(), 5, "{found:?}");
    assert!(names("templ")
        .await
        .contains(&"create_issue_template".to_owned()));
    // Word order and case do not matter but to the last word; they share one cache entry.
    let first = app.get("/tools?q=Create%20Bulk%20issues").await;
    let second = app.get("/tools?q=bulk%20create%20issues").await;
    assert_eq!(first.body, second.body);
    assert_eq!(second.cache(), "HIT");
    // Nothing to search for: an empty page, no statement.
    let before = app.statements();
    assert_eq!(names("! ?").await, Vec::<String>::new());
    assert_eq!(app.statements(), before);
    // Any other order still works with q.
    let found = names("create").await;
    let by_name = walk(&app, "q=create&sort=name").await;
    let mut sorted = found.clone();
    sorted.sort();
    assert_eq!(by_name, sorted);
    // relevance needs q.
    assert_eq!(
        app.get("/tools?sort=relevance").await.status,
        StatusCode::BAD_REQUEST
    );
}

/// A small catalogue and searches over its words: a few words that are prefixes of others.
const WORDS: &[&str] = &[
    "data", "database", "send", "sender", "mail", "email", "vector", "search", "query", "report",
];

fn catalogue_strategy() -> impl Strategy<Value = Vec<Vec<usize>>> {
    prop::collection::vec(prop::collection::vec(0..WORDS.len(), 1..5), 3..18)
}

fn search_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..WORDS.len(), 1..4)
}

/// What the API must answer: the tools of `catalogue` that hold a word of `q`, each with its
/// standing (the weights counted over the whole catalogue, as the index counts them).
fn model(catalogue: &[Tool], q: &str) -> BTreeMap<String, Scored> {
    let search = Search::parse(q);
    let weights: BTreeMap<String, i64> = search.weigh_over(catalogue).into_iter().collect();
    catalogue
        .iter()
        .filter_map(|tool| Some((tool.name.clone(), search::score(tool, &search, &weights)?)))
        .collect()
}

fn tool_of(i: usize, words: &[usize]) -> Value {
    let text: Vec<&str> = words.iter().map(|&w| WORDS[w]).collect();
    json!({"name": format!("tool-{i}"), "description": text.join(" "), "category": "testing",
           "inputSchema": {"type": "object"}})
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn paging_a_search_to_its_end_yields_each_matching_tool_once_best_first(
        catalogue in catalogue_strategy(),
        searches in prop::collection::vec(search_strategy(), 1..4),
        limit in 1_u32..4,
    ) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let app = TestApp::start().await;
            let bodies: Vec<Value> = catalogue.iter().enumerate().map(|(i, w)| tool_of(i, w)).collect();
            create_all(&app, &bodies).await;
            let tools: Vec<Tool> = bodies
                .iter()
                .map(|body| {
                    ToolChanges::for_create(body)
                        .unwrap()
                        .into_new_tool(Uuid::nil(), Uuid::nil(), Timestamp::now())
                })
                .collect();
            for words in &searches {
                let q: Vec<&str> = words.iter().map(|&w| WORDS[w]).collect();
                let q = q.join(" ");
                let expected = model(&tools, &q);
                let names = walk(&app, &format!("q={}&limit={limit}", encoded(&q))).await;
                let listed: BTreeSet<&String> = names.iter().collect();
                prop_assert_eq!(listed.len(), names.len(), "{}: each tool once: {:?}", q, names);
                prop_assert_eq!(
                    listed,
                    expected.keys().collect::<BTreeSet<_>>(),
                    "{}: the tools that hold its words", q
                );
                let standings: Vec<Scored> = names.iter().map(|n| expected[n]).collect();
                prop_assert!(
                    standings.windows(2).all(|w| w[0] >= w[1]),
                    "{}: best first: {:?} {:?}", q, names, standings
                );
            }
            Ok(())
        })?;
    }
}

/// A term's candidates are read in its postings' order (weight, then category, then id), and a
/// single word ranks in that order too, so its pages skip nothing however few the candidates.
#[tokio::test]
async fn a_word_held_by_more_tools_than_its_candidates_pages_through_all_of_them() {
    let mut config = test_config(&redis_url());
    config.database.search_candidates = 2;
    let app = TestApp::with_config(config).await;
    let bodies: Vec<Value> = (0..12)
        .map(|i| {
            let category = ["alpha", "beta", "gamma"][i % 3];
            json!({"name": format!("store-{i}"), "description": "Stores vector data",
                   "category": category})
        })
        .collect();
    create_all(&app, &bodies).await;
    for limit in [1, 2, 5] {
        let names = walk(&app, &format!("q=vector&limit={limit}")).await;
        let listed: BTreeSet<&String> = names.iter().collect();
        assert_eq!(
            (listed.len(), names.len()),
            (12, 12),
            "limit {limit}: {names:?}"
        );
    }
}

#[tokio::test]
async fn the_migration_indexes_tools_stored_before_it() {
    let app = TestApp::start().await;
    create_all(
        &app,
        &[
            json!({"name": "legacy_report_builder", "description": "Builds quarterly reports",
                 "category": "testing", "tags": ["legacy"]}),
        ],
    )
    .await;
    // As a catalogue of an earlier version: tools without index rows, migration 6 not applied.
    for sql in [
        "DELETE FROM tool_terms",
        "DELETE FROM tool_tags",
        "DELETE FROM search_terms",
        "DELETE FROM schema_migrations WHERE version = 6",
    ] {
        app.db.execute(sql, vec![]).await.expect(sql);
    }
    assert!(walk(&app, "q=quarterly").await.is_empty());
    let applied =
        shared::store::migrations::migrate(&app.db, shared::store::migrations::MIGRATIONS)
            .await
            .unwrap();
    assert_eq!(applied, [6]);
    // (Other queries than the one cached before: the migration retires no list page.)
    assert_eq!(
        walk(&app, "q=quarterly%20repo").await,
        ["legacy_report_builder"]
    );
    assert_eq!(walk(&app, "tag=legacy").await, ["legacy_report_builder"]);
}

#[tokio::test]
async fn the_migration_copies_categories_and_owners_into_index_rows_written_before_it() {
    let app = TestApp::start().await;
    create_all(
        &app,
        &[
            json!({"name": "ledger_reconciler", "description": "Reconciles ledgers nightly",
                 "category": "finance", "tags": ["ledgers"]}),
        ],
    )
    .await;
    let owner = app.get("/tools?tag=ledgers").await.json()["items"][0]["ownerId"]
        .as_str()
        .expect("the tool's owner")
        .to_owned();
    assert_eq!(
        walk(&app, "q=reconciles&category=finance").await,
        ["ledger_reconciler"]
    );
    assert_eq!(
        walk(&app, &format!("tag=ledgers&ownerId={owner}")).await,
        ["ledger_reconciler"]
    );
    // As index rows of version 6: no category, no owner, migration 7 not applied.
    for sql in [
        "UPDATE tool_terms SET category = ''",
        "UPDATE tool_tags SET owner_id = ''",
        "DELETE FROM schema_migrations WHERE version = 7",
    ] {
        app.db.execute(sql, vec![]).await.expect(sql);
    }
    // (Other queries than those cached before: the migration retires no list page.)
    assert!(walk(&app, "q=ledgers&category=finance").await.is_empty());
    let by_owner = format!("tag=ledgers&ownerId={owner}&sort=-createdAt");
    assert!(walk(&app, &by_owner).await.is_empty());
    let applied =
        shared::store::migrations::migrate(&app.db, shared::store::migrations::MIGRATIONS)
            .await
            .unwrap();
    assert_eq!(applied, [7]);
    assert_eq!(
        walk(&app, "q=nightly&category=finance").await,
        ["ledger_reconciler"]
    );
    assert_eq!(
        walk(&app, &format!("tag=ledgers&ownerId={owner}&sort=name")).await,
        ["ledger_reconciler"]
    );
}

#[tokio::test]
async fn a_migration_whose_indexes_are_already_dropped_applies_again() {
    let app = TestApp::start().await;
    create_all(
        &app,
        &[
            json!({"name": "invoice_mailer", "description": "Mails invoices to customers",
                 "category": "finance", "tags": ["billing"]}),
        ],
    )
    .await;
    // As a deployment whose migration 8 ran but was not recorded (a deploy stopped between the
    // two): its indexes are swapped already.
    app.db
        .execute("DELETE FROM schema_migrations WHERE version = 8", vec![])
        .await
        .expect("forgetting migration 8");
    let applied =
        shared::store::migrations::migrate(&app.db, shared::store::migrations::MIGRATIONS)
            .await
            .unwrap();
    assert_eq!(applied, [8]);
    assert_eq!(
        walk(&app, "q=invoices&category=finance").await,
        ["invoice_mailer"]
    );
}
