//! The fleet property: four independent instances (each its own Redis connection, breaker and
//! Data API client, as separate Lambda environments are) run random interleavings of creates,
//! updates, deletes and reads while faults are injected: Redis refusing writes, Redis not
//! answering, Redis restarted, Data API answers lost after the work was done, and writers that
//! die between their commit and their cache update.
//!
//! Invariants:
//! - every acknowledged write's result is what its client was told (and no write that happened
//!   is reported as a conflict or an absence);
//! - once the sweeper has run after Redis accepts writes again, no reader on any instance gets
//!   anything but the last write, from the tool key or from a list;
//! - the outbox drains to empty;
//! - a write retires only the pages it can change: after a write in one category, every
//!   instance's cached page of the other category is still a hit.

use std::collections::BTreeMap;
use std::time::Duration;

use data_api_emulator::{FaultRule, Operation};
use http::{Request, StatusCode};
use integration_tests::{runtime, test_config, tool_body, Instance, OwnedRedis, TestApp};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::{json, Value};
use uuid::Uuid;

const INSTANCES: usize = 4;

#[derive(Clone, Copy, Debug)]
enum Fault {
    None,
    /// `CLIENT PAUSE … WRITE`: reads answered, writes held.
    PauseWrites,
    /// `CLIENT PAUSE … ALL`: nothing answered.
    PauseAll,
    /// Killed and started again: its data is gone.
    Restart,
    /// The Data API answer of the next such call is lost after the call took effect.
    Drop(Operation, Option<&'static str>),
    /// The writer commits, then vanishes before it touches Redis or answers.
    DieAfterCommit,
}

#[derive(Clone, Copy, Debug)]
enum Action {
    /// In the first of the case's two categories, or the second.
    Create(bool),
    Update(usize),
    /// Into the other category.
    Move(usize),
    Delete(usize),
    Read(usize),
    List,
}

#[derive(Clone, Copy, Debug)]
struct Step {
    instance: usize,
    action: Action,
    fault: Fault,
}

fn step_strategy() -> impl Strategy<Value = Step> {
    let fault = prop_oneof![
        6 => Just(Fault::None),
        2 => Just(Fault::PauseWrites),
        1 => Just(Fault::PauseAll),
        1 => Just(Fault::Restart),
        1 => Just(Fault::Drop(Operation::CommitTransaction, None)),
        1 => Just(Fault::Drop(Operation::Execute, Some("INSERT"))),
        1 => Just(Fault::Drop(Operation::Execute, Some("UPDATE"))),
        1 => Just(Fault::Drop(Operation::Execute, Some("DELETE"))),
        1 => Just(Fault::Drop(Operation::Execute, Some("SELECT"))),
        2 => Just(Fault::DieAfterCommit),
    ];
    let action = prop_oneof![
        2 => any::<bool>().prop_map(Action::Create),
        3 => (0usize..8).prop_map(Action::Update),
        1 => (0usize..8).prop_map(Action::Move),
        1 => (0usize..8).prop_map(Action::Delete),
        3 => (0usize..8).prop_map(Action::Read),
        1 => Just(Action::List),
    ];
    (0..INSTANCES, action, fault).prop_map(|(instance, action, fault)| Step {
        instance,
        action,
        fault,
    })
}

fn with_token(request: http::request::Builder, token: &str) -> http::request::Builder {
    request
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
}

struct World {
    app: TestApp,
    redis: tokio::sync::Mutex<OwnedRedis>,
    instances: Vec<Instance>,
}

/// The user whose tools one case writes (a fresh one per case: an empty catalogue to compare),
/// in two categories of the case's own.
struct Owner {
    token: String,
    id: Uuid,
    actor: shared::domain::Actor,
    categories: [String; 2],
}

impl Owner {
    async fn new(app: &TestApp) -> Self {
        let (token, id) = app.user().await;
        let (actor, _) = app
            .auth
            .authentication()
            .authenticate(&token)
            .await
            .unwrap();
        let categories = ["a", "b"].map(|c| format!("{c}-{}", id.simple()));
        Self {
            token,
            id,
            actor,
            categories,
        }
    }

    /// A new tool's body in category `second` (else the first).
    fn tool(&self, second: bool) -> Value {
        let mut body = tool_body("fleet");
        body["category"] = json!(self.categories[usize::from(second)]);
        body
    }

    /// The path of the list of this owner's category `c`.
    fn category_page(&self, c: usize) -> String {
        format!("/tools?category={}&limit=100", self.categories[c])
    }
}

/// What the registry must hold: by id, the tool as last written (`None`: deleted), and the
/// highest revision ever acknowledged.
#[derive(Default)]
struct Model {
    tools: BTreeMap<String, Option<Value>>,
    order: Vec<String>,
    /// The highest revision ever written per id (a deleted tool keeps its last one).
    highest: BTreeMap<String, i64>,
}

impl Model {
    fn pick(&self, i: usize) -> Option<String> {
        (!self.order.is_empty()).then(|| self.order[i % self.order.len()].clone())
    }

    fn record(&mut self, id: String, tool: Option<Value>) {
        if let Some(revision) = tool.as_ref().and_then(|t| t["revision"].as_i64()) {
            self.highest.insert(id.clone(), revision);
        }
        self.tools.insert(id, tool);
    }

    fn revision(&self, id: &str) -> i64 {
        self.tools
            .get(id)
            .and_then(|t| t.as_ref())
            .and_then(|t| t["revision"].as_i64())
            .unwrap_or(0)
    }
}

async fn run_step(world: &World, who: &Owner, model: &mut Model, step: Step, n: usize) {
    let app = &world.app;
    let instance = &world.instances[step.instance];
    match step.fault {
        Fault::PauseWrites => world.redis.lock().await.pause_writes(250).await,
        Fault::PauseAll => world.redis.lock().await.pause(250).await,
        Fault::Restart => world.redis.lock().await.restart().await,
        Fault::Drop(operation, statement) => app.emulator.add_fault(FaultRule {
            operation: Some(operation),
            statement: statement.map(str::to_owned),
            action: data_api_emulator::FaultAction::DropResponse,
            count: 1,
        }),
        Fault::None | Fault::DieAfterCommit => {}
    }
    let dies = matches!(step.fault, Fault::DieAfterCommit);
    match step.action {
        Action::Create(second) => {
            if dies {
                let committed = instance
                    .write_tools
                    .commit_create(&who.actor, &who.tool(second), None)
                    .await
                    .expect("commit");
                let tool = serde_json::to_value(committed.tool.as_ref().unwrap()).unwrap();
                let id = tool["id"].as_str().unwrap().to_owned();
                model.order.push(id.clone());
                model.record(id, Some(tool));
            } else {
                let request = with_token(Request::post("/tools"), &who.token)
                    .body(who.tool(second).to_string().into())
                    .unwrap();
                let created = instance.send(request).await;
                assert_eq!(
                    created.status,
                    StatusCode::CREATED,
                    "{step:?}: {}",
                    created.text()
                );
                let tool = created.json();
                let id = tool["id"].as_str().unwrap().to_owned();
                model.order.push(id.clone());
                model.record(id, Some(tool));
            }
        }
        Action::Update(i) | Action::Move(i) => {
            let Some(id) = model.pick(i) else { return };
            let patch = match (step.action, &model.tools[&id]) {
                (Action::Move(_), Some(tool)) => {
                    let first = tool["category"] == json!(who.categories[0]);
                    json!({"category": who.categories[usize::from(first)]})
                }
                _ => json!({"description": format!("step {n}")}),
            };
            let exists = model.tools[&id].is_some();
            if dies {
                let result = instance
                    .write_tools
                    .commit_update(&who.actor, id.parse().unwrap(), &patch, None, None)
                    .await;
                match (result, exists) {
                    (Ok(committed), true) => {
                        let tool = serde_json::to_value(committed.tool.as_ref().unwrap()).unwrap();
                        model.record(id, Some(tool));
                    }
                    (Err(shared::services::ToolError::NotFound), false) => {}
                    (other, _) => panic!("{step:?}: {other:?}"),
                }
                return;
            }
            let request = with_token(Request::patch(format!("/tools/{id}")), &who.token)
                .body(patch.to_string().into())
                .unwrap();
            let response = instance.send(request).await;
            if exists {
                assert_eq!(
                    response.status,
                    StatusCode::OK,
                    "{step:?}: {}",
                    response.text()
                );
                let tool = response.json();
                assert_eq!(
                    tool["revision"].as_i64(),
                    Some(model.revision(&id) + 1),
                    "{step:?}"
                );
                model.record(id, Some(tool));
            } else {
                assert_eq!(
                    response.status,
                    StatusCode::NOT_FOUND,
                    "{step:?}: {}",
                    response.text()
                );
            }
        }
        Action::Delete(i) => {
            let Some(id) = model.pick(i) else { return };
            let exists = model.tools[&id].is_some();
            if dies {
                let result = instance
                    .write_tools
                    .commit_delete(&who.actor, id.parse().unwrap(), None)
                    .await;
                match (result, exists) {
                    (Ok(_), true) => {
                        model.record(id, None);
                    }
                    (Err(shared::services::ToolError::NotFound), false) => {}
                    (other, _) => panic!("{step:?}: {other:?}"),
                }
                return;
            }
            let request = with_token(Request::delete(format!("/tools/{id}")), &who.token)
                .body(axum::body::Body::empty())
                .unwrap();
            let response = instance.send(request).await;
            let expected = if exists {
                StatusCode::NO_CONTENT
            } else {
                StatusCode::NOT_FOUND
            };
            assert_eq!(response.status, expected, "{step:?}: {}", response.text());
            model.record(id, None);
        }
        Action::Read(i) => {
            let Some(id) = model.pick(i) else { return };
            // Mid-fault a reader may see an older revision (until the sweep); never a newer one,
            // never an error.
            let read = instance.get(&format!("/tools/{id}")).await;
            match read.status {
                StatusCode::OK => {
                    let revision = read.json()["revision"].as_i64().unwrap();
                    assert!(revision <= model.highest[&id], "{step:?}: {}", read.text());
                }
                // A deleted tool's tombstone answers (its row and tombstone commit together).
                StatusCode::GONE => {}
                other => panic!("{step:?}: {other} {}", read.text()),
            }
        }
        Action::List => {
            for page in [
                format!("/tools?ownerId={}", who.id),
                who.category_page(0),
                who.category_page(1),
            ] {
                let read = instance.get(&page).await;
                assert_eq!(read.status, StatusCode::OK, "{step:?}: {}", read.text());
            }
        }
    }
}

/// After the faults: one sweep, then every instance reads exactly the model, twice (the second
/// read from the cache its first read filled), from tool keys and from lists.
async fn check_converged(world: &World, who: &Owner, model: &Model) {
    let app = &world.app;
    tokio::time::sleep(Duration::from_millis(300)).await; // pauses over, breakers closed again
    let mut report = Default::default();
    app.sweeper()
        .drain(&mut report, integration_tests::sweep_deadline())
        .await;
    assert_eq!(report.failures, 0, "{report:?}");
    assert_eq!(
        app.pending_invalidations().await,
        0,
        "the outbox drains to empty"
    );
    let mut listed: Vec<&Value> = model.tools.values().flatten().collect();
    listed.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    for (n, instance) in world.instances.iter().enumerate() {
        for _ in 0..2 {
            for (id, tool) in &model.tools {
                let read = instance.get(&format!("/tools/{id}")).await;
                match tool {
                    Some(tool) => {
                        assert_eq!(read.status, StatusCode::OK, "instance {n}, {id}");
                        assert_eq!(&read.json(), tool, "instance {n}, {id} ({})", read.cache());
                    }
                    None => assert_eq!(
                        read.status,
                        StatusCode::GONE,
                        "instance {n}: deleted {id} served ({})",
                        read.cache()
                    ),
                }
            }
            let page = instance
                .get(&format!("/tools?ownerId={}&limit=100", who.id))
                .await;
            let items = page.json()["items"].as_array().unwrap().clone();
            let items: Vec<&Value> = items.iter().collect();
            assert_eq!(items, listed, "instance {n}: list ({})", page.cache());
            for c in 0..2 {
                let page = instance.get(&who.category_page(c)).await;
                let items = page.json()["items"].as_array().unwrap().clone();
                let items: Vec<&Value> = items.iter().collect();
                let expected: Vec<&Value> = listed
                    .iter()
                    .copied()
                    .filter(|t| t["category"] == json!(who.categories[c]))
                    .collect();
                assert_eq!(
                    items,
                    expected,
                    "instance {n}: category {c} ({})",
                    page.cache()
                );
            }
        }
    }
}

/// With every page cached everywhere, a write in the first category: every instance still hits
/// its page of the second, and reads the write in the first.
async fn check_scoped(world: &World, who: &Owner) {
    let app = &world.app;
    for instance in &world.instances {
        for c in 0..2 {
            instance.get(&who.category_page(c)).await;
        }
    }
    let created = app.create(&who.token, &who.tool(false)).await;
    for (n, instance) in world.instances.iter().enumerate() {
        let untouched = instance.get(&who.category_page(1)).await;
        assert_eq!(
            untouched.cache(),
            "HIT",
            "instance {n}: retired by a write elsewhere"
        );
        let touched = instance.get(&who.category_page(0)).await;
        let items = touched.json()["items"].as_array().unwrap().clone();
        assert!(
            items.iter().any(|t| t["id"] == created["id"]),
            "instance {n}: the write not listed ({})",
            touched.cache()
        );
    }
}

#[test]
fn every_acknowledged_write_is_seen_by_every_instance_once_the_sweeper_ran() {
    let rt = runtime();
    let world = rt.block_on(async {
        let redis = OwnedRedis::start().await;
        let mut config = test_config(&redis.url());
        // The sweeper takes every pending row at once (in production it leaves rows younger
        // than a second to their writers).
        config.sweeper.min_age = Duration::ZERO;
        let app = TestApp::with_config(config).await;
        World {
            instances: (0..INSTANCES).map(|_| app.instance()).collect(),
            redis: tokio::sync::Mutex::new(redis),
            app,
        }
    });
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 16,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &proptest::collection::vec(step_strategy(), 1..14),
            |steps| {
                rt.block_on(async {
                    let who = Owner::new(&world.app).await;
                    let mut model = Model::default();
                    for (n, step) in steps.into_iter().enumerate() {
                        run_step(&world, &who, &mut model, step, n).await;
                        // A fault armed for a call that did not come must not leak into the next step.
                        world.app.emulator.clear_faults();
                    }
                    check_converged(&world, &who, &model).await;
                    check_scoped(&world, &who).await;
                });
                Ok(())
            },
        )
        .unwrap();
}
