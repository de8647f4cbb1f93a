//! The registry's cache properties (a repeated read is a hit; an update is seen by the next read;
//! a Redis fault costs only speed), 100 cases each, against the real services, plus the
//! stale-set race and the cache-key properties.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use integration_tests::{
    blackhole, refused_url, require_redis, runtime, tool_body, OwnedRedis, TestApp,
};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::{json, Value};
use shared::cache::CacheKeys;
use shared::domain::ListQuery;
use uuid::Uuid;

fn runner() -> TestRunner {
    TestRunner::new(ProptestConfig {
        cases: 100,
        failure_persistence: None,
        ..ProptestConfig::default()
    })
}

/// Arbitrary valid tool bodies.
fn tool_strategy() -> impl Strategy<Value = Value> {
    (
        "[A-Za-z0-9_.-]{1,20}",
        proptest::option::of("[ -~]{0,40}"),
        "[ -~é漢]{1,200}",
        "[a-z0-9-]{1,12}",
        proptest::collection::btree_set("[a-z0-9-]{1,10}", 0..6),
        "[0-9]\\.[0-9]\\.[0-9]",
        any::<bool>(),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(
            |(name, title, description, category, tags, version, deprecated, hint)| {
                let mut body = json!({
                    "name": format!("{name}.{}", Uuid::now_v7().simple()),
                    "title": title,
                    "description": description,
                    "category": category,
                    "tags": tags.into_iter().collect::<Vec<_>>(),
                    "version": version,
                    "inputSchema": {"type": "object", "properties": {"a": {"type": "integer"}}},
                    "status": if deprecated { "deprecated" } else { "active" },
                });
                if let Some(hint) = hint {
                    body["annotations"] = json!({"readOnlyHint": hint});
                }
                body
            },
        )
}

/// Property 29: the second read of an unchanged tool is a Redis HIT and makes no Data API call.
#[test]
fn cache_hit_on_repeated_access() {
    let rt = runtime();
    let app = rt.block_on(TestApp::start());
    let (token, _) = rt.block_on(app.user());
    runner()
        .run(&tool_strategy(), |body| {
            rt.block_on(async {
                let tool = app.create(&token, &body).await;
                let id = tool["id"].as_str().unwrap();
                let key = app.tools.cache().keys().tool(id.parse().unwrap());
                let _: () = redis::cmd("DEL")
                    .arg(&key)
                    .query_async(&mut app.redis().await)
                    .await
                    .unwrap();
                let path = format!("/tools/{id}");
                let before_first = app.statements();
                let first = app.get(&path).await;
                assert_eq!(first.status, StatusCode::OK);
                assert_eq!(first.cache(), "MISS");
                assert!(app.statements() > before_first, "a miss reads the database");
                let before_second = app.statements();
                let second = app.get(&path).await;
                assert_eq!(second.cache(), "HIT");
                assert_eq!(
                    app.statements(),
                    before_second,
                    "a hit makes no Data API call"
                );
                assert_eq!(second.body, first.body);
                assert_eq!(second.header("etag"), first.header("etag"));
                assert_eq!(second.json(), tool);
            });
            Ok(())
        })
        .unwrap();
}

#[derive(Clone, Debug)]
enum Op {
    Create(Value),
    Update(usize, Value),
    Delete(usize),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let patch = (
        proptest::option::of("[a-z]{1,8}"),
        proptest::option::of(prop_oneof![Just("alpha"), Just("beta")]),
        proptest::option::of(proptest::collection::vec(
            prop_oneof![Just("red"), Just("blue")],
            0..2,
        )),
        proptest::option::of(prop_oneof![Just("active"), Just("deprecated")]),
    )
        .prop_map(|(title, category, tags, status)| {
            let mut patch = json!({});
            if let Some(t) = title {
                patch["title"] = json!(t);
            }
            if let Some(c) = category {
                patch["category"] = json!(c);
            }
            if let Some(mut t) = tags {
                t.dedup();
                patch["tags"] = json!(t);
            }
            if let Some(s) = status {
                patch["status"] = json!(s);
            }
            patch
        });
    prop_oneof![
        (
            prop_oneof![Just("alpha"), Just("beta")],
            proptest::collection::vec(prop_oneof![Just("red"), Just("blue")], 0..2)
        )
            .prop_map(|(category, mut tags)| {
                tags.dedup();
                let mut body = tool_body("inv");
                body["category"] = json!(category);
                body["tags"] = json!(tags);
                Op::Create(body)
            }),
        (0usize..4, patch).prop_map(|(i, p)| Op::Update(i, p)),
        (0usize..4).prop_map(Op::Delete),
    ]
}

/// Property 30: after any sequence of creates, updates and deletes, every read of each tool and
/// of every list reflects the last write.
#[test]
fn cache_invalidation_on_update() {
    let rt = runtime();
    let app = rt.block_on(TestApp::start());
    let (token, _) = rt.block_on(app.user());
    let lists = [
        "",
        "&category=alpha",
        "&category=beta",
        "&tag=red",
        "&status=deprecated",
        "&sort=-updatedAt",
    ];
    runner()
        .run(&proptest::collection::vec(op_strategy(), 1..8), |ops| {
            rt.block_on(async {
                let (token_owner, owner) = app.user().await;
                let _ = &token;
                // The model: what the database must hold, by id.
                let mut model: BTreeMap<String, Value> = BTreeMap::new();
                let mut known: Vec<String> = Vec::new();
                for op in ops {
                    match op {
                        Op::Create(body) => {
                            let tool = app.create(&token_owner, &body).await;
                            let id = tool["id"].as_str().unwrap().to_owned();
                            known.push(id.clone());
                            model.insert(id, tool);
                        }
                        Op::Update(i, patch) => {
                            let Some(id) = known.get(i % known.len().max(1)).cloned() else {
                                continue;
                            };
                            let response = app
                                .json(Method::PATCH, &format!("/tools/{id}"), &token_owner, &patch)
                                .await;
                            if let Some(slot) = model.get_mut(&id) {
                                assert_eq!(response.status, StatusCode::OK, "{}", response.text());
                                *slot = response.json();
                            } else {
                                assert_eq!(response.status, StatusCode::NOT_FOUND);
                            }
                        }
                        Op::Delete(i) => {
                            let Some(id) = known.get(i % known.len().max(1)).cloned() else {
                                continue;
                            };
                            let response = app.delete(&format!("/tools/{id}"), &token_owner).await;
                            let expected = if model.remove(&id).is_some() {
                                StatusCode::NO_CONTENT
                            } else {
                                StatusCode::NOT_FOUND
                            };
                            assert_eq!(response.status, expected);
                        }
                    }
                    // Every read after the write reflects it (each read also warms the cache for
                    // the next write to invalidate).
                    for id in &known {
                        let read = app.get(&format!("/tools/{id}")).await;
                        match model.get(id) {
                            Some(tool) => {
                                assert_eq!(read.status, StatusCode::OK);
                                assert_eq!(&read.json(), tool, "tool {id} ({})", read.cache());
                            }
                            None => assert_eq!(
                                read.status,
                                StatusCode::GONE,
                                "deleted {id} ({})",
                                read.cache()
                            ),
                        }
                    }
                    for filter in lists {
                        let read = app.get(&format!("/tools?ownerId={owner}{filter}")).await;
                        assert_eq!(read.status, StatusCode::OK);
                        let got: Vec<Value> = read.json()["items"].as_array().unwrap().clone();
                        let mut want: Vec<Value> = model
                            .values()
                            .filter(|t| match filter {
                                "&category=alpha" => t["category"] == "alpha",
                                "&category=beta" => t["category"] == "beta",
                                "&tag=red" => t["tags"].as_array().unwrap().contains(&json!("red")),
                                "&status=deprecated" => t["status"] == "deprecated",
                                _ => true,
                            })
                            .cloned()
                            .collect();
                        if filter == "&sort=-updatedAt" {
                            want.sort_by(|a, b| {
                                (b["updatedAt"].as_str(), b["id"].as_str())
                                    .cmp(&(a["updatedAt"].as_str(), a["id"].as_str()))
                            });
                        } else {
                            want.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
                        }
                        assert_eq!(got, want, "list {filter} ({})", read.cache());
                    }
                }
            });
            Ok(())
        })
        .unwrap();
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    Refused,
    Blackhole,
    Paused,
    Restarted,
}

/// Property 32: with Redis refusing connections, accepting but never answering, paused, or
/// restarted mid-run, every read still succeeds from the database within the configured timeouts
/// plus the database time; after a restart the cache is used again without restarting anything.
#[test]
fn cache_fallback_on_failure() {
    let rt = runtime();
    let (hole, _task) = rt.block_on(blackhole());
    let owned = tokio::sync::Mutex::new(rt.block_on(OwnedRedis::start()));
    let live = rt.block_on(TestApp::with_redis(&owned.try_lock().unwrap().url()));
    let refused = rt.block_on(live.beside(&refused_url()));
    let hung = rt.block_on(live.beside(&format!("redis://{hole}")));
    let (token, _) = rt.block_on(live.user());
    let fault = prop_oneof![
        Just(Fault::Refused),
        Just(Fault::Blackhole),
        Just(Fault::Paused),
        Just(Fault::Restarted)
    ];
    runner()
        .run(&(fault, tool_strategy()), |(fault, body)| {
            rt.block_on(async {
                let tool = live.create(&token, &body).await;
                let path = format!("/tools/{}", tool["id"].as_str().unwrap());
                let app = match fault {
                    Fault::Refused => &refused,
                    Fault::Blackhole => &hung,
                    Fault::Paused | Fault::Restarted => &live,
                };
                let cache = &app.config.cache;
                let redis_budget = cache.connect_timeout + cache.response_timeout * 2;
                match fault {
                    Fault::Paused => owned.lock().await.pause(1_200).await,
                    Fault::Restarted => owned.lock().await.stop(),
                    _ => {}
                }
                for _ in 0..3 {
                    let db_time = database_read_time(app, &tool).await;
                    let started = Instant::now();
                    let read = app.get(&path).await;
                    let elapsed = started.elapsed();
                    assert_eq!(read.status, StatusCode::OK, "{fault:?}");
                    assert_eq!(read.cache(), "BYPASS", "{fault:?}");
                    assert_eq!(read.json(), tool);
                    assert!(
                        elapsed <= redis_budget + db_time * 3 + Duration::from_millis(500),
                        "{fault:?}: {elapsed:?} > {redis_budget:?} + db {db_time:?}"
                    );
                    let list = app.get("/tools?limit=1").await;
                    assert_eq!(list.status, StatusCode::OK);
                    assert_eq!(list.cache(), "BYPASS");
                }
                if let Fault::Restarted = fault {
                    owned.lock().await.restart().await;
                }
                if matches!(fault, Fault::Paused | Fault::Restarted) {
                    // Back to the cache without restarting anything: MISS (refill), then HIT.
                    let deadline = Instant::now() + Duration::from_secs(5);
                    loop {
                        let read = live.get(&path).await;
                        assert_eq!(read.status, StatusCode::OK);
                        if read.cache() == "HIT" {
                            break;
                        }
                        assert!(
                            Instant::now() < deadline,
                            "{fault:?}: cache never used again"
                        );
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            });
            Ok(())
        })
        .unwrap();
}

/// How long a bare database read of `tool` takes (what a bypassed read costs at least), having
/// checked that the database holds it as created.
async fn database_read_time(app: &TestApp, tool: &Value) -> Duration {
    use shared::store::ToolStore;
    let id: Uuid = tool["id"].as_str().unwrap().parse().unwrap();
    let started = Instant::now();
    let stored = app.tools.store().get(id).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(
        stored.map(|t| serde_json::to_value(t).unwrap()).as_ref(),
        Some(tool)
    );
    elapsed
}

/// The stale-set race: readers that loaded an old revision from the database must never put it
/// back after a write; once an update is acknowledged no reader gets an older revision.
#[test]
fn no_reader_sees_a_revision_older_than_the_last_acknowledged_write() {
    let rt = runtime();
    rt.block_on(async {
        let app = Arc::new(TestApp::start().await);
        // Slow database answers widen the window between a reader's DB read and its cache fill.
        app.emulator.set_latency(Duration::from_millis(3));
        let (token, _) = app.user().await;
        let tool = app.create(&token, &tool_body("race")).await;
        let id: Uuid = tool["id"].as_str().unwrap().parse().unwrap();
        let path = format!("/tools/{id}");
        let acked = Arc::new(AtomicI64::new(1));
        let done = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let (app, acked, done, path) = (app.clone(), acked.clone(), done.clone(), path.clone());
            tasks.push(tokio::spawn(async move {
                let mut reads = 0u64;
                while !done.load(Ordering::Acquire) {
                    let floor = acked.load(Ordering::Acquire);
                    let read = app.get(&path).await;
                    assert_eq!(read.status, StatusCode::OK);
                    let revision = read.json()["revision"].as_i64().unwrap();
                    assert!(
                        revision >= floor,
                        "read revision {revision} after {floor} was acknowledged ({})",
                        read.cache()
                    );
                    reads += 1;
                }
                reads
            }));
        }
        // Evictions (TTL expiry, memory pressure) make readers miss and refill concurrently.
        let evictor = {
            let (app, done) = (app.clone(), done.clone());
            let key = app.tools.cache().keys().tool(id);
            tokio::spawn(async move {
                let mut redis = app.redis().await;
                while !done.load(Ordering::Acquire) {
                    let _: () = redis::cmd("DEL")
                        .arg(&key)
                        .query_async(&mut redis)
                        .await
                        .unwrap();
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
        };
        for n in 0..60 {
            let response = app
                .json(
                    Method::PATCH,
                    &path,
                    &token,
                    &json!({"title": format!("v{n}")}),
                )
                .await;
            assert_eq!(response.status, StatusCode::OK);
            acked.store(
                response.json()["revision"].as_i64().unwrap(),
                Ordering::Release,
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        done.store(true, Ordering::Release);
        evictor.await.unwrap();
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap();
        }
        assert!(total > 100, "readers made {total} reads");
        let last = app.get(&path).await;
        assert_eq!(last.json()["revision"], 61);
    });
}

fn query_strategy() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    let param = prop_oneof![
        "[a-z]{1,4}".prop_map(|v| ("category", v)),
        "[a-z]{1,4}".prop_map(|v| ("tag", v)),
        prop_oneof![Just("active"), Just("deprecated")].prop_map(|v| ("status", v.to_owned())),
        "[a-zA-Z]{1,6}".prop_map(|v| ("q", v)),
        prop_oneof![
            Just("name"),
            Just("-name"),
            Just("createdAt"),
            Just("-updatedAt")
        ]
        .prop_map(|v| ("sort", v.to_owned())),
        (1u32..=100).prop_map(|v| ("limit", v.to_string())),
    ];
    proptest::collection::vec(param, 0..6).prop_map(|params| {
        let mut seen = std::collections::HashSet::new();
        params
            .into_iter()
            .filter(|(k, _)| seen.insert(*k))
            .collect()
    })
}

fn key_of(params: &[(&str, String)]) -> String {
    let raw: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let query = ListQuery::parse(Some(&raw.join("&"))).unwrap();
    CacheKeys::new("mcp").list_page(&query)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    /// Equivalent queries (other order, defaults spelled out, other case of `q`) give one key.
    #[test]
    fn equivalent_queries_share_a_key(params in query_strategy(), seed in any::<u64>()) {
        let mut shuffled = params.clone();
        let n = shuffled.len();
        for i in 0..n {
            shuffled.swap(i, (seed as usize).wrapping_add(i * 7) % n);
        }
        let mut with_defaults = shuffled.clone();
        if !with_defaults.iter().any(|(k, _)| *k == "limit") { with_defaults.push(("limit", "20".into())); }
        // The default order: relevance with a search, else by name.
        let default_sort = if with_defaults.iter().any(|(k, _)| *k == "q") { "relevance" } else { "name" };
        if !with_defaults.iter().any(|(k, _)| *k == "sort") { with_defaults.push(("sort", default_sort.into())); }
        for (k, v) in with_defaults.iter_mut() { if *k == "q" { *v = v.to_uppercase(); } }
        prop_assert_eq!(key_of(&params), key_of(&shuffled));
        prop_assert_eq!(key_of(&params), key_of(&with_defaults));
    }

    /// Different queries give different keys.
    #[test]
    fn different_queries_get_different_keys(a in query_strategy(), b in query_strategy()) {
        let parse = |p: &[(&str, String)]| {
            let raw: Vec<String> = p.iter().map(|(k, v)| format!("{k}={v}")).collect();
            ListQuery::parse(Some(&raw.join("&"))).unwrap()
        };
        let (qa, qb) = (parse(&a), parse(&b));
        prop_assert_eq!(qa == qb, key_of(&a) == key_of(&b));
    }
}

/// The services the property tests need are really there (a missing one fails, never skips).
#[test]
fn required_services_are_running() {
    runtime().block_on(require_redis(&integration_tests::redis_url()));
}
