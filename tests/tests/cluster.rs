//! Redis Cluster specifics, on a three-primary cluster of the test's own (whatever
//! `TEST_REDIS_MODE` says): the keys one operation touches share a slot, and a dead primary costs
//! speed only; its shard caches again once it is back.

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use integration_tests::{direct_connection, test_config, tool_body, OwnedCluster, TestApp};
use serde_json::json;
use shared::config::{Config, RedisMode};
use shared::domain::ListQuery;
use uuid::Uuid;

fn cluster_config(cluster: &OwnedCluster) -> Config {
    let mut config = test_config(&cluster.url());
    config.cache.mode = RedisMode::Cluster;
    config
}

#[tokio::test]
async fn keys_one_operation_touches_together_share_a_slot() {
    let cluster = OwnedCluster::start().await;
    let keys = shared::cache::CacheKeys::new("mcp");
    let mut connection = direct_connection(&cluster.nodes[0].url()).await;
    let mut slot = async |key: String| -> i64 {
        redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .expect("CLUSTER KEYSLOT")
    };
    let mut tool_slots = Vec::new();
    for _ in 0..16 {
        let id = Uuid::now_v7();
        let tool = slot(keys.tool(id)).await;
        assert_eq!(slot(keys.tool_write_marker(id)).await, tool, "guarded fill");
        assert_eq!(slot(keys.tool_lease(id)).await, tool, "guarded fill");
        tool_slots.push(tool);
    }
    tool_slots.dedup();
    assert!(
        tool_slots.len() > 1,
        "tools spread over slots: {tool_slots:?}"
    );
    for limit in [1, 2, 100] {
        let query = ListQuery {
            limit,
            ..ListQuery::default()
        };
        assert_eq!(
            slot(keys.list_page(&query)).await,
            slot(keys.list_lease(&query)).await,
            "a page is stored and its lease released in one round trip"
        );
    }
    let generations = slot(keys.list_epoch()).await;
    for key in [
        keys.list_generation("all"),
        keys.list_generation("tag:x"),
        keys.applied_watermark(),
        keys.applied_evidence(),
    ] {
        assert_eq!(
            slot(key).await,
            generations,
            "a write's bumps and the watermark's check are one script each"
        );
    }
}

#[tokio::test]
async fn a_dead_primary_costs_speed_only_and_its_shard_caches_again_once_back() {
    let mut cluster = OwnedCluster::start().await;
    let app = TestApp::with_config(cluster_config(&cluster)).await;
    let (token, owner) = app.user().await;
    let mut ids = Vec::new();
    for n in 0..12 {
        let tool = app.create(&token, &tool_body(&format!("shard{n}"))).await;
        ids.push(tool["id"].as_str().unwrap().parse::<Uuid>().unwrap());
    }
    let reader = app.instance();
    for id in &ids {
        reader.get(&format!("/tools/{id}")).await;
        assert_eq!(reader.get(&format!("/tools/{id}")).await.cache(), "HIT");
    }

    // Kill the primary that owns the first tool's slot (no replica takes over).
    let keys = app.tools.cache().keys().clone();
    let dead = cluster.owner_of(&keys.tool(ids[0])).await;
    cluster.nodes[dead].stop();

    // Every request still answers, from the database or a surviving shard, with the truth.
    let list = format!("/tools?ownerId={owner}&limit=50");
    for round in 0..3 {
        for id in &ids {
            let read = reader.get(&format!("/tools/{id}")).await;
            assert_eq!(
                read.status,
                StatusCode::OK,
                "round {round}: {}",
                read.text()
            );
            assert!(["HIT", "MISS", "BYPASS"].contains(&read.cache()));
            assert_eq!(read.json()["id"], id.to_string());
        }
        let page = reader.get(&list).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        assert_eq!(page.json()["items"].as_array().unwrap().len(), ids.len());
    }
    // Writes too; the invalidation the dead shard cannot take waits in the outbox.
    let path = format!("/tools/{}", ids[0]);
    let patched = app
        .json(
            Method::PATCH,
            &path,
            &token,
            &json!({"title": "while a shard is down"}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
    let read = reader.get(&path).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.json()["title"], "while a shard is down");

    // Back (empty, with its slots): the shard is used again, and serves the last write.
    cluster.nodes[dead].restart().await;
    let started = Instant::now();
    loop {
        let read = reader.get(&path).await;
        assert_eq!(read.status, StatusCode::OK);
        assert_eq!(
            read.json()["title"],
            "while a shard is down",
            "{}",
            read.cache()
        );
        if read.cache() == "HIT" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the restarted shard was not used again (last: {})",
            read.cache()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for id in &ids {
        let path = format!("/tools/{id}");
        reader.get(&path).await;
        assert_eq!(reader.get(&path).await.cache(), "HIT", "{path}");
    }
}
