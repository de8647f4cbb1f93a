//! Every list shape the API accepts reads a bounded part of the catalogue: on 50,000 tools, the
//! statements behind each filter alone and in pairs, each order, and searches read (in MariaDB's
//! own count of rows it read: index lookups and steps, scans, temporary tables) a number of rows
//! that follows the page and the search's candidates, never the table. A shape without an index
//! reads the table: tens of thousands of rows, and fails here.

use std::sync::Arc;

use integration_tests::{as_function, data_api, redis_url, test_config, TestApp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use shared::config::Function;
use shared::domain::search::DF_CAP;
use shared::domain::{ListQuery, Timestamp, Tool, ToolChanges};
use shared::store::{DataApiToolStore, ToolStore};
use uuid::Uuid;

const TOOLS: usize = 50_000;
/// Candidates per search word in this test (the default is larger; the bound follows it).
const CANDIDATES: u32 = 100;
const CATEGORIES: [&str; 12] = [
    "developer",
    "data",
    "communication",
    "productivity",
    "search",
    "ai",
    "finance",
    "media",
    "filesystem",
    "security",
    "commerce",
    "analytics",
];
const WORDS: [&str; 24] = [
    "create", "list", "send", "query", "search", "vector", "email", "issue", "file", "report",
    "invoice", "message", "database", "image", "event", "user", "order", "payment", "ticket",
    "channel", "record", "index", "deploy", "upload",
];

/// `count` tools spread like a catalogue's: a dozen categories, few deprecated, three owners and
/// one of a tool in a thousand, tags from common to rare, descriptions over a small vocabulary.
fn catalogue(count: usize, owners: &[Uuid]) -> Vec<Tool> {
    let mut rng = StdRng::seed_from_u64(18);
    (0..count)
        .map(|i| {
            let words: Vec<&str> = (0..8)
                .map(|_| WORDS[rng.gen_range(0..WORDS.len())])
                .collect();
            // Tag k on about 1 in 2^(k/4+1) tools: t0 on half, t39 on a few dozen.
            let tags: Vec<String> = (0..40)
                .filter(|k| rng.gen_range(0..(2_u32 << (k / 4))) == 0)
                .map(|k| format!("t{k}"))
                .take(6)
                .collect();
            let body = json!({
                "name": format!("{}_{}_{i}", words[0], words[1]),
                "description": words.join(" "),
                "category": CATEGORIES[rng.gen_range(0..CATEGORIES.len())],
                "tags": tags,
                "status": if rng.gen_range(0..20) == 0 { "deprecated" } else { "active" },
                "inputSchema": {"type": "object"},
            });
            let created =
                Timestamp::from_millis(1_700_000_000_000 + rng.gen_range(0..10_000_000_000));
            ToolChanges::for_create(&body)
                .expect("a valid tool")
                .into_new_tool(Uuid::now_v7(), owner_of(i, owners), created)
        })
        .collect()
}

/// The owner of the `i`th tool: `owners[3]` has one in a thousand, the first three the rest.
fn owner_of(i: usize, owners: &[Uuid]) -> Uuid {
    if i.is_multiple_of(1_000) {
        owners[3]
    } else {
        owners[i % 7 / 3]
    }
}

/// Every shape of list query: each filter alone and in pairs, in each order; searches, also of
/// one owner of many tools and one of few.
fn shapes(owner: Uuid, rare_owner: Uuid) -> Vec<String> {
    let filters = [
        "category=finance".to_owned(),
        "status=deprecated".to_owned(),
        format!("ownerId={owner}"),
        "tag=t0".to_owned(),
        "tag=t30".to_owned(),
        // About the last tenth of the tools (their times span 2023-11-14 to 2024-03-09).
        "updatedSince=2024-02-25T00:00:00Z".to_owned(),
    ];
    let mut filtered = vec![String::new()];
    for (i, a) in filters.iter().enumerate() {
        filtered.push(a.clone());
        for b in &filters[i + 1..] {
            if !(a.starts_with("tag=") && b.starts_with("tag=")) {
                filtered.push(format!("{a}&{b}"));
            }
        }
    }
    let mut shapes = Vec::new();
    for filter in &filtered {
        for sort in [
            "name",
            "-name",
            "createdAt",
            "-createdAt",
            "updatedAt",
            "-updatedAt",
        ] {
            // `updatedSince` ranges over the updatedAt order (incremental sync's); in another
            // order it filters the walk, which the statement time limit bounds (docs/api.md).
            if filter.contains("updatedSince") && !sort.ends_with("updatedAt") {
                continue;
            }
            shapes.push(format!("{filter}&sort={sort}"));
        }
    }
    for q in [
        "vector",
        "invoice%20email",
        "send%20email%20report",
        "data",
        "xylophone",
        "create_list_7",
    ] {
        for extra in [
            String::new(),
            "&sort=name".to_owned(),
            "&category=ai".to_owned(),
            "&status=deprecated".to_owned(),
            "&tag=t0".to_owned(),
            "&tag=t30".to_owned(),
            format!("&ownerId={owner}"),
            format!("&ownerId={rare_owner}"),
        ] {
            shapes.push(format!("q={q}{extra}"));
        }
    }
    shapes
}

#[tokio::test]
async fn every_list_shape_reads_a_bounded_number_of_rows() {
    let mut config = test_config(&redis_url());
    config.database.search_candidates = CANDIDATES;
    let app = TestApp::with_config(config).await;
    let owners = [
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    ];
    let admin = Arc::new(DataApiToolStore::new(data_api(
        app.emulator_addr,
        &app.config,
    )));
    let mut batches = tokio::task::JoinSet::new();
    for batch in catalogue(TOOLS, &owners).chunks(1_000) {
        let (admin, batch) = (admin.clone(), batch.to_vec());
        batches.spawn(async move { admin.insert_many(&batch, Uuid::now_v7()).await });
        if batches.len() == 4 {
            batches
                .join_next()
                .await
                .unwrap()
                .unwrap()
                .expect("a batch");
        }
    }
    while let Some(done) = batches.join_next().await {
        done.unwrap().expect("a batch");
    }
    app.db
        .execute("ANALYZE TABLE tools, tool_tags, tool_terms", vec![])
        .await
        .expect("fresh index statistics");
    let store = DataApiToolStore::new(data_api(
        app.emulator_addr,
        &as_function(&app.config, Function::ToolsRead),
    ));
    app.emulator.count_rows_read(true);
    let mut refused = Vec::new();
    for shape in shapes(owners[0], owners[3]) {
        let query = ListQuery::parse(Some(&shape)).expect(&shape);
        let before = app.emulator.stats().rows_read;
        let first = store.list(&query, None, 20).await.expect(&shape);
        let first_rows = app.emulator.stats().rows_read - before;
        // A search's first page also counts its terms (up to DF_CAP each); the next pages take
        // their weights from the cursor.
        let terms = query.search().map_or(0, |s| s.words.len() + 9) as u64;
        let page_bound = match query.search() {
            None => 2_500,
            Some(search) => 40 * u64::from(CANDIDATES) * (search.words.len() as u64 + 2) + 2_500,
        };
        if first_rows > page_bound + terms * DF_CAP as u64 {
            refused.push(format!("{shape}: first page read {first_rows} rows"));
        }
        if let Some(next) = first.next {
            let before = app.emulator.stats().rows_read;
            store.list(&query, Some(&next), 20).await.expect(&shape);
            let rows = app.emulator.stats().rows_read - before;
            if rows > page_bound {
                refused.push(format!("{shape}: second page read {rows} rows"));
            }
        }
    }
    assert!(
        refused.is_empty(),
        "over the bound on {TOOLS} tools:\n{}",
        refused.join("\n")
    );
}
