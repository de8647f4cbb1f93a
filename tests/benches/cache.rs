//! `make bench`: in-process latency of the read paths against the local services, printed beside
//! a bare Redis `GET` measured in the same run (these machines are noisy: compare ratios); Data API
//! statements spent when a fleet misses one key at once; the list hit ratio of a Zipf workload of
//! list reads under one write a second, with the statements each write costs; how long an update
//! Redis refused takes to reach every instance once Redis accepts writes again, and how long a
//! write Redis lost in a restart takes, with the sweeper on its local schedule.
//! `TEST_REDIS_MODE=cluster` measures the same against the local Redis Cluster (`make bench` runs
//! both modes).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use integration_tests::{tool_body, Instance, OwnedRedis, TestApp};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

struct Figures {
    name: &'static str,
    samples: Vec<Duration>,
}

impl Figures {
    fn p(&self, p: f64) -> Duration {
        percentile(&self.samples, p)
    }
}

async fn measure<F, Fut>(name: &'static str, n: usize, mut op: F) -> Figures
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..n / 10 {
        op().await;
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        op().await;
        samples.push(started.elapsed());
    }
    samples.sort();
    Figures { name, samples }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let app = TestApp::start().await;
    let (token, owner) = app.user().await;
    let tool = app.create(&token, &tool_body("bench")).await;
    let id = tool["id"].as_str().unwrap().to_owned();
    let path = format!("/tools/{id}");
    let list = format!("/tools?ownerId={owner}");
    let key = app.tools.cache().keys().tool(id.parse().unwrap());
    let mut redis = app.redis().await;
    // Prime both cache entries: the measured loops are pure hits.
    app.get(&path).await;
    app.get(&list).await;

    let bare = measure("bare Redis GET", n, || {
        let mut redis = redis.clone();
        let key = key.clone();
        async move {
            let _: Option<Vec<u8>> = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut redis)
                .await
                .unwrap();
        }
    })
    .await;
    let cache = app.tools.cache().clone();
    let tool_id: uuid::Uuid = id.parse().unwrap();
    let cache_get = measure("CacheService::get_tool", n, || {
        let cache = cache.clone();
        async move {
            assert!(matches!(
                cache.get_tool(tool_id).await,
                shared::cache::Lookup::Hit(_)
            ));
        }
    })
    .await;
    let hit = measure("GET /tools/{id} HIT", n, || async {
        let r = app.get(&path).await;
        assert_eq!(r.cache(), "HIT");
    })
    .await;
    let list_hit = measure("GET /tools?ownerId= HIT", n, || async {
        let r = app.get(&list).await;
        assert_eq!(r.cache(), "HIT");
    })
    .await;
    let mut miss_samples = Vec::new();
    for _ in 0..(n / 5).max(100) {
        let _: () = redis::cmd("DEL")
            .arg(&key)
            .query_async(&mut redis)
            .await
            .unwrap();
        let started = Instant::now();
        let r = app.get(&path).await;
        miss_samples.push(started.elapsed());
        assert_eq!(r.cache(), "MISS");
    }
    miss_samples.sort();
    let miss = Figures {
        name: "GET /tools/{id} MISS",
        samples: miss_samples,
    };

    let mode = integration_tests::redis_mode();
    println!("\nREDIS_MODE={mode:?} ({})", app.config.cache.redis_url);
    println!(
        "{:<28} {:>8} {:>10} {:>10} {:>12}",
        "path", "samples", "p50", "p99", "p50 / bare"
    );
    let base = bare.p(0.5).as_secs_f64();
    for f in [&bare, &cache_get, &hit, &list_hit, &miss] {
        println!(
            "{:<28} {:>8} {:>10.1?} {:>10.1?} {:>11.2}x",
            f.name,
            f.samples.len(),
            f.p(0.5),
            f.p(0.99),
            f.p(0.5).as_secs_f64() / base
        );
    }
    println!("\ntarget: cache hit p50 within 2x of the bare Redis GET");

    if mode == shared::config::RedisMode::Standalone {
        commands_per_list_hit(&app, &list).await;
    }
    fleet_misses(&app, &token).await;
    list_workload().await;
    recovery_after_refused_writes().await;
    recovery_after_a_restart_that_lost_a_write().await;
    if mode == shared::config::RedisMode::Cluster {
        return; // The rest does not depend on Redis.
    }

    // Password verification at the production cost (what a login spends on hashing).
    let production = shared::config::Config::from_lookup(|_| None)
        .unwrap()
        .passwords;
    let hasher = shared::services::auth::PasswordHasher::new(&production).unwrap();
    let phc = hasher.hash("a long enough password").unwrap();
    let mut samples: Vec<Duration> = (0..30)
        .map(|_| {
            let started = Instant::now();
            assert!(hasher.verify("a long enough password", Some(&phc)));
            started.elapsed()
        })
        .collect();
    samples.sort();
    println!(
        "argon2id verify (m={} KiB, t={}): p50 {:.1?}, max {:.1?} on one core of this machine",
        production.memory_kib,
        production.iterations,
        percentile(&samples, 0.5),
        samples[samples.len() - 1]
    );
}

/// Data API statements when `n` instances miss one tool key at the same moment (fill leases).
async fn fleet_misses(app: &TestApp, token: &str) {
    println!(
        "\n{:<44} {:>10} {:>10}",
        "instances missing one key at once", "statements", "all 200"
    );
    for n in [16, 64] {
        let instances: Vec<Arc<Instance>> = (0..n).map(|_| Arc::new(app.instance())).collect();
        let warmer = app.create(token, &tool_body("bench-warm")).await;
        for instance in &instances {
            instance
                .get(&format!("/tools/{}", warmer["id"].as_str().unwrap()))
                .await;
        }
        let mut worst = 0;
        let mut all_ok = true;
        for _ in 0..5 {
            let tool = app.create(token, &tool_body("bench-lease")).await;
            let id: uuid::Uuid = tool["id"].as_str().unwrap().parse().unwrap();
            let _: () = redis::cmd("DEL")
                .arg(app.tools.cache().keys().tool(id))
                .query_async(&mut app.redis().await)
                .await
                .unwrap();
            let before = app.statements();
            let tasks: Vec<_> = instances
                .iter()
                .map(|instance| {
                    let instance = instance.clone();
                    tokio::spawn(async move { instance.get(&format!("/tools/{id}")).await.status })
                })
                .collect();
            for task in tasks {
                all_ok &= task.await.unwrap() == http::StatusCode::OK;
            }
            worst = worst.max(app.statements() - before);
        }
        println!(
            "{:<44} {:>10} {:>10}",
            format!("{n} (worst of 5 rounds)"),
            worst,
            all_ok
        );
    }
}

/// Time from "Redis accepts writes again" to "every instance reads the new revision", with the
/// sweeper running as `make dev` runs it (a poll every `SWEEPER_POLL_MS`).
async fn recovery_after_refused_writes() {
    let redis = OwnedRedis::start().await;
    let app = Arc::new(TestApp::with_redis(&redis.url()).await);
    let (token, _) = app.user().await;
    let instances: Vec<Instance> = (0..8).map(|_| app.instance()).collect();
    // One sweeper run in the background, polling as on AWS and under `make dev`; the rounds
    // start at different phases of its polling.
    let sweeper = app.sweeper();
    let sweeping = tokio::spawn(async move {
        sweeper
            .run(SystemTime::now() + Duration::from_secs(600))
            .await
    });
    let mut samples = Vec::new();
    for round in 0..7u64 {
        tokio::time::sleep(Duration::from_millis(137 * round)).await;
        let tool = app.create(&token, &tool_body("bench-recovery")).await;
        let path = format!("/tools/{}", tool["id"].as_str().unwrap());
        for instance in &instances {
            instance.get(&path).await;
        }
        let pause = Duration::from_millis(1_000);
        redis.pause_writes(pause.as_millis() as u64).await;
        let paused_at = Instant::now();
        let patched = app
            .json(
                http::Method::PATCH,
                &path,
                &token,
                &serde_json::json!({"title": format!("r{round}")}),
            )
            .await;
        let revision = patched.json()["revision"].as_i64().unwrap();
        tokio::time::sleep(pause.saturating_sub(paused_at.elapsed())).await;
        let writable_at = Instant::now();
        loop {
            let mut fresh = true;
            for instance in &instances {
                fresh &= instance.get(&path).await.json()["revision"].as_i64() == Some(revision);
            }
            if fresh {
                samples.push(writable_at.elapsed());
                break;
            }
            assert!(
                writable_at.elapsed() < Duration::from_secs(30),
                "never converged"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    sweeping.abort();
    samples.sort();
    println!(
        "\nRedis takes writes again -> 8 instances read the update (sweeper polling every {:?}): \
         median {:.0?}, max {:.0?} over {} rounds",
        app.config.sweeper.poll_interval,
        samples[samples.len() / 2],
        samples[samples.len() - 1],
        samples.len()
    );
}

/// Redis commands a list hit sends (standalone: the server's command counter; they go out
/// together, so a hit waits one round trip).
async fn commands_per_list_hit(app: &TestApp, list: &str) {
    async fn processed(redis: &mut shared::cache::RedisConnection) -> u64 {
        let info: String = redis::cmd("INFO")
            .arg("stats")
            .query_async(redis)
            .await
            .unwrap();
        info.lines()
            .find_map(|line| line.strip_prefix("total_commands_processed:"))
            .and_then(|n| n.trim().parse().ok())
            .expect("total_commands_processed")
    }
    let mut redis = app.redis().await;
    let hits = 1000;
    let before = processed(&mut redis).await;
    for _ in 0..hits {
        assert_eq!(app.get(list).await.cache(), "HIT");
    }
    // The second INFO counts itself.
    let commands = processed(&mut redis).await - before - 1;
    println!(
        "\nRedis commands per list hit: {:.2} (sent at once: one round trip), over {hits} hits",
        commands as f64 / f64::from(hits)
    );
}

/// List reads of a Zipf workload (the default order, 12 categories, 200 tags, a few searches)
/// from 8 instances at a steady rate, with one write a second to a random tool, every page
/// cached at the start: the measured hit ratio, beside what the same requests would give if
/// every write retired every page; and the Data API statements of one write.
async fn list_workload() {
    use rand::rngs::StdRng;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};

    let seconds: u64 = std::env::var("BENCH_WORKLOAD_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let reads_per_second = 200u64;
    let app = TestApp::start().await;
    let (token, _) = app.user().await;
    let mut rng = StdRng::seed_from_u64(19);
    let categories: Vec<String> = (0..12).map(|c| format!("category-{c}")).collect();
    let tags: Vec<String> = (0..200).map(|t| format!("tag-{t}")).collect();
    let words = ["fetch", "send", "query", "render", "search"];
    // A tag's popularity falls with its rank, as real tags' does.
    let tag_weights: Vec<f64> = (1..=tags.len()).map(|r| 1.0 / r as f64).collect();
    let tag_of = rand::distributions::WeightedIndex::new(&tag_weights).unwrap();
    let mut ids = Vec::new();
    for n in 0..600 {
        let mut body = tool_body("workload");
        body["category"] = serde_json::json!(categories[n % categories.len()]);
        let mut chosen: Vec<&String> = (0..3).map(|_| &tags[rng.sample(&tag_of)]).collect();
        chosen.sort();
        chosen.dedup();
        body["tags"] = serde_json::json!(chosen);
        body["description"] = serde_json::json!(format!(
            "Tools that {} things for agents",
            words[n % words.len()]
        ));
        let tool = app.create(&token, &body).await;
        ids.push(tool["id"].as_str().unwrap().to_owned());
    }
    let mut queries = vec!["/tools".to_owned()];
    queries.extend(categories.iter().map(|c| format!("/tools?category={c}")));
    queries.extend(tags.iter().map(|t| format!("/tools?tag={t}")));
    queries.extend(words.iter().map(|w| format!("/tools?q={w}")));
    queries.shuffle(&mut rng);
    let weights: Vec<f64> = (1..=queries.len()).map(|r| 1.0 / r as f64).collect();
    let query_of = rand::distributions::WeightedIndex::new(&weights).unwrap();
    let instances: Vec<Instance> = (0..8).map(|_| app.instance()).collect();

    // Every page cached once: the figures are of the steady state, not of a cold cache.
    for query in &queries {
        assert_eq!(app.get(query).await.status, http::StatusCode::OK, "{query}");
    }
    let (mut hits, mut reads, mut modelled_hits) = (0u64, 0u64, 0u64);
    // The pages a cache that retires every page on every write would hold.
    let mut everything_retired: std::collections::HashSet<String> =
        queries.iter().cloned().collect();
    let (mut write_statements, mut writes) = (0u64, 0u64);
    let interval = Duration::from_micros(1_000_000 / reads_per_second);
    let started = Instant::now();
    let mut next_write = started + Duration::from_secs(1);
    let mut next_read = started;
    while started.elapsed() < Duration::from_secs(seconds) {
        if Instant::now() >= next_write {
            let id = &ids[rng.gen_range(0..ids.len())];
            let before = app.statements();
            let patched = app
                .json(
                    http::Method::PATCH,
                    &format!("/tools/{id}"),
                    &token,
                    &serde_json::json!({"version": format!("1.{writes}.0")}),
                )
                .await;
            assert_eq!(patched.status, http::StatusCode::OK);
            write_statements += app.statements() - before;
            writes += 1;
            everything_retired.clear();
            next_write += Duration::from_secs(1);
        }
        let query = &queries[rng.sample(&query_of)];
        let read = instances[(reads % 8) as usize].get(query).await;
        assert_eq!(read.status, http::StatusCode::OK, "{query}");
        reads += 1;
        hits += u64::from(read.cache() == "HIT");
        modelled_hits += u64::from(!everything_retired.insert(query.clone()));
        next_read += interval;
        tokio::time::sleep_until(next_read.into()).await;
    }
    println!(
        "\nZipf list workload, {reads} reads of {} queries from 8 instances at {reads_per_second}/s, \
         {writes} writes at 1/s over {} categories ({seconds} s):",
        queries.len(),
        categories.len()
    );
    println!(
        "  list hit ratio {:.1} % (a write retires its scopes' pages); {:.1} % if every write \
         retired every page",
        100.0 * hits as f64 / reads as f64,
        100.0 * modelled_hits as f64 / reads as f64
    );
    println!(
        "  Data API statements per write (PATCH: session, read, transaction): {:.1}",
        write_statements as f64 / writes as f64
    );
}

/// Time from a Redis restart that lost the last write (it comes back from a snapshot taken
/// before it) to the last read, on any instance, of the tool or a list without that write, with
/// the sweeper polling as on AWS.
async fn recovery_after_a_restart_that_lost_a_write() {
    let mut redis = OwnedRedis::start().await;
    let app = Arc::new(TestApp::with_redis(&redis.url()).await);
    let (token, owner) = app.user().await;
    let instances: Vec<Instance> = (0..8).map(|_| app.instance()).collect();
    let sweeper = app.sweeper();
    let sweeping = tokio::spawn(async move {
        sweeper
            .run(SystemTime::now() + Duration::from_secs(600))
            .await
    });
    let list = format!("/tools?ownerId={owner}&limit=100");
    let mut samples = Vec::new();
    for round in 0..5u64 {
        let tool = app.create(&token, &tool_body("bench-restart")).await;
        let path = format!("/tools/{}", tool["id"].as_str().unwrap());
        for instance in &instances {
            instance.get(&path).await;
            instance.get(&list).await;
        }
        // The sweeper has moved Redis's watermark past the create when the snapshot is taken.
        tokio::time::sleep(app.config.sweeper.min_age + 2 * app.config.sweeper.poll_interval).await;
        redis.save().await;
        let patched = app
            .json(
                http::Method::PATCH,
                &path,
                &token,
                &serde_json::json!({"title": format!("r{round}")}),
            )
            .await;
        let revision = patched.json()["revision"].as_i64().unwrap();
        redis.restart().await;
        let restarted_at = Instant::now();
        // Instances whose connection dropped read the database until they reconnect, then
        // Redis's older state until the sweeper heals it: watch long enough to see both.
        let mut last_stale = None;
        while restarted_at.elapsed() < Duration::from_secs(4) {
            for instance in &instances {
                let tool = instance.get(&path).await.json();
                let page = instance.get(&list).await.json();
                let listed = page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t["revision"].as_i64() == Some(revision));
                if tool["revision"].as_i64() != Some(revision) || !listed {
                    last_stale = Some(restarted_at.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            last_stale.is_none_or(|at| at < Duration::from_secs(3)),
            "never healed: stale at {last_stale:?}"
        );
        samples.push(last_stale.unwrap_or_default());
    }
    sweeping.abort();
    samples.sort();
    println!(
        "Redis restarts without the last write -> the last stale read of 8 instances, tool and \
         list (sweeper polling every {:?}): median {:.0?}, max {:.0?} over {} rounds",
        app.config.sweeper.poll_interval,
        samples[samples.len() / 2],
        samples[samples.len() - 1],
        samples.len()
    );
}
