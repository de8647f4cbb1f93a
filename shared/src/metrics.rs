//! CloudWatch Embedded Metric Format: one JSON line per request with its latency, its cache
//! outcome and the Redis errors since the previous line. CloudWatch turns the lines into metrics;
//! no API call, no agent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "McpRegistry";

static REDIS_ERRORS: AtomicU64 = AtomicU64::new(0);

type Sink = Box<dyn Fn(&str) + Send + Sync>;
static SINK: OnceLock<Sink> = OnceLock::new();

/// Counts one failed or timed-out Redis call (reported with the next request's line).
pub fn count_redis_error() {
    REDIS_ERRORS.fetch_add(1, Ordering::Relaxed);
}

/// Sends every metric line to `sink` instead of stdout (for tests). The first call wins.
pub fn capture(sink: impl Fn(&str) + Send + Sync + 'static) {
    let _ = SINK.set(Box::new(sink));
}

fn enabled() -> bool {
    static ON_LAMBDA: OnceLock<bool> = OnceLock::new();
    SINK.get().is_some()
        || *ON_LAMBDA.get_or_init(|| std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some())
}

/// Emits the metric line of one request (`method` and matched `path` make its `Route`
/// dimension). `cache` is the `X-Cache` value, if any.
pub fn record_request(
    method: &str,
    path: &str,
    status: u16,
    latency: Duration,
    cache: Option<&str>,
) {
    if !enabled() {
        return;
    }
    let route = format!("{method} {path}");
    let redis_errors = REDIS_ERRORS.swap(0, Ordering::Relaxed);
    let service = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into());
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let flag = |value: &str| u8::from(cache == Some(value));
    let line = serde_json::json!({
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Service", "Route"], ["Service"]],
                "Metrics": [
                    {"Name": "Latency", "Unit": "Milliseconds"},
                    {"Name": "CacheHit", "Unit": "Count"},
                    {"Name": "CacheMiss", "Unit": "Count"},
                    {"Name": "CacheBypass", "Unit": "Count"},
                    {"Name": "RedisErrors", "Unit": "Count"},
                ],
            }],
        },
        "Service": service,
        "Route": route,
        "StatusCode": status,
        "Latency": latency.as_secs_f64() * 1000.0,
        "CacheHit": flag("HIT"),
        "CacheMiss": flag("MISS"),
        "CacheBypass": flag("BYPASS"),
        "RedisErrors": redis_errors,
    })
    .to_string();
    match SINK.get() {
        Some(sink) => sink(&line),
        None => println!("{line}"),
    }
}
