//! A mirror kept with `updatedSince` sees every change, deletions included: built from one full
//! listing, then random creates, updates and deletes (some between the pages of a poll) and
//! polls through random instances; after each poll it equals the registry.

use std::collections::BTreeMap;
use std::time::Duration;

use http::{Method, StatusCode};
use integration_tests::{runtime, tool_body, Instance, TestApp};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::{json, Value};
use shared::domain::Timestamp;

#[derive(Clone, Debug)]
enum Write {
    Create(u8),
    Update(u8),
    Delete(u8),
}

fn write_strategy() -> impl Strategy<Value = Write> {
    prop_oneof![
        2 => (0..3u8).prop_map(Write::Create),
        2 => any::<u8>().prop_map(Write::Update),
        1 => any::<u8>().prop_map(Write::Delete),
    ]
}

/// A round: writes, then a poll of pages of `page` items, with `between` more writes made after
/// its first page.
#[derive(Clone, Debug)]
struct Round {
    writes: Vec<Write>,
    between: Vec<Write>,
    page: u8,
}

fn round_strategy() -> impl Strategy<Value = Round> {
    (
        proptest::collection::vec(write_strategy(), 0..6),
        proptest::collection::vec(write_strategy(), 0..3),
        1..6u8,
    )
        .prop_map(|(writes, between, page)| Round {
            writes,
            between,
            page,
        })
}

/// The registry as its writes left it: each live tool by id.
#[derive(Default)]
struct Registry {
    tools: BTreeMap<String, Value>,
}

impl Registry {
    fn pick(&self, i: u8) -> Option<String> {
        let ids: Vec<&String> = self.tools.keys().collect();
        (!ids.is_empty()).then(|| ids[i as usize % ids.len()].clone())
    }
}

/// What a client keeps: each id's newest revision, and the tool unless deleted.
#[derive(Default)]
struct Mirror {
    entries: BTreeMap<String, (i64, Option<Value>)>,
}

impl Mirror {
    fn apply(&mut self, item: &Value) {
        let id = item["id"].as_str().unwrap().to_owned();
        let revision = item["revision"].as_i64().unwrap();
        if self
            .entries
            .get(&id)
            .is_some_and(|(known, _)| *known >= revision)
        {
            return;
        }
        let tool = (item["status"] != "deleted").then(|| item.clone());
        self.entries.insert(id, (revision, tool));
    }

    fn live(&self) -> BTreeMap<String, Value> {
        self.entries
            .iter()
            .filter_map(|(id, (_, tool))| tool.clone().map(|tool| (id.clone(), tool)))
            .collect()
    }
}

async fn write(app: &TestApp, token: &str, registry: &mut Registry, write: &Write) {
    // Writes land strictly after any cursor already handed out (a millisecond apart).
    tokio::time::sleep(Duration::from_millis(2)).await;
    match write {
        Write::Create(kind) => {
            let mut body = tool_body("sync");
            body["category"] = json!(["alpha", "beta", "gamma"][*kind as usize]);
            let tool = app.create(token, &body).await;
            registry
                .tools
                .insert(tool["id"].as_str().unwrap().to_owned(), tool);
        }
        Write::Update(i) => {
            let Some(id) = registry.pick(*i) else { return };
            let patch = json!({"description": format!("changed {i}")});
            let response = app
                .json(Method::PATCH, &format!("/tools/{id}"), token, &patch)
                .await;
            assert_eq!(response.status, StatusCode::OK, "{}", response.text());
            registry.tools.insert(id, response.json());
        }
        Write::Delete(i) => {
            let Some(id) = registry.pick(*i) else { return };
            let response = app.delete(&format!("/tools/{id}"), token).await;
            assert_eq!(response.status, StatusCode::NO_CONTENT);
            registry.tools.remove(&id);
        }
    }
}

/// One walk of `path` (its pages through the instances in turn), applying every item; `between`
/// is written after the first page while more pages follow.
async fn poll(
    app: &TestApp,
    token: &str,
    registry: &mut Registry,
    instances: &[Instance],
    path: &str,
    between: &[Write],
    mirror: &mut Mirror,
) {
    let mut cursor: Option<String> = None;
    for page_number in 0.. {
        let url = match &cursor {
            Some(cursor) => format!("{path}&cursor={cursor}"),
            None => path.to_owned(),
        };
        let instance = &instances[page_number % instances.len()];
        let page = instance.get(&url).await;
        assert_eq!(page.status, StatusCode::OK, "{url}: {}", page.text());
        let page = page.json();
        for item in page["items"].as_array().unwrap() {
            mirror.apply(item);
        }
        cursor = page["nextCursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
        if page_number == 0 {
            for change in between {
                write(app, token, registry, change).await;
            }
        }
    }
}

#[test]
fn a_mirror_kept_with_updated_since_equals_the_registry_after_each_poll() {
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 12,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &proptest::collection::vec(round_strategy(), 1..5),
            |rounds| {
                runtime().block_on(async {
                    let app = TestApp::start().await;
                    let (token, owner) = app.user().await;
                    let instances: Vec<Instance> = (0..3).map(|_| app.instance()).collect();
                    let mut registry = Registry::default();
                    for i in 0..3 {
                        write(&app, &token, &mut registry, &Write::Create(i)).await;
                    }
                    // The initial full listing (the owner's tools: this test's catalogue).
                    let mut mirror = Mirror::default();
                    let mut since = Timestamp::now();
                    let all = format!("/tools?ownerId={owner}&limit=2");
                    poll(
                        &app,
                        &token,
                        &mut registry,
                        &instances,
                        &all,
                        &[],
                        &mut mirror,
                    )
                    .await;
                    assert_eq!(mirror.live(), registry.tools);
                    for round in rounds {
                        for change in &round.writes {
                            write(&app, &token, &mut registry, change).await;
                        }
                        // The previous poll's start, less a margin for clocks and commits.
                        let from = Timestamp::from_millis(since.millis() - 1_000);
                        since = Timestamp::now();
                        let path = format!(
                            "/tools?ownerId={owner}&sort=updatedAt&limit={}&updatedSince={}",
                            round.page,
                            from.to_rfc3339().replace('+', "%2B"),
                        );
                        poll(
                            &app,
                            &token,
                            &mut registry,
                            &instances,
                            &path,
                            &round.between,
                            &mut mirror,
                        )
                        .await;
                        assert_eq!(mirror.live(), registry.tools, "{round:?}");
                    }
                });
                Ok(())
            },
        )
        .unwrap();
}
