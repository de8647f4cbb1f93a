//! `make bench`: in-process latency of the read paths against the local services, printed beside
//! a bare Redis `GET` measured in the same run (these machines are noisy: compare ratios).

use std::time::{Duration, Instant};

use integration_tests::{tool_body, TestApp};

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

    println!(
        "\n{:<28} {:>8} {:>10} {:>10} {:>12}",
        "path", "samples", "p50", "p99", "p50 / bare"
    );
    let base = bare.p(0.5).as_secs_f64();
    for f in [&bare, &hit, &list_hit, &miss] {
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

    // Password verification at the production cost (what a login spends on hashing).
    let production = shared::config::Config::from_lookup(|_| None)
        .unwrap()
        .passwords;
    let hasher = shared::auth::PasswordHasher::new(&production);
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
