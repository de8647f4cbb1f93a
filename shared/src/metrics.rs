//! CloudWatch Embedded Metric Format: one JSON line per request with its latency, its cache
//! outcome and the Redis and Data API errors since the previous line. CloudWatch turns the lines into metrics;
//! no API call, no agent. On Lambda that line is also the request's access log line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "McpRegistry";

/// Metrics emitted together, and the dimension sets CloudWatch publishes each of them under.
#[derive(Debug)]
pub struct MetricSet {
    /// Each set of dimension names a metric is published under.
    pub dimensions: &'static [&'static [&'static str]],
    /// Each metric's name and unit.
    pub metrics: &'static [(&'static str, &'static str)],
}

/// A request's metrics (every API function).
pub const REQUEST_METRICS: MetricSet = MetricSet {
    dimensions: &[&["Service", "Route"], &["Service"]],
    metrics: &[
        ("Latency", "Milliseconds"),
        ("CacheHit", "Count"),
        ("CacheMiss", "Count"),
        ("CacheBypass", "Count"),
        ("RedisErrors", "Count"),
        ("DatabaseErrors", "Count"),
        ("DatabaseThrottles", "Count"),
    ],
};

/// The outbox backlog (the cache sweeper, each poll).
pub const OUTBOX_METRICS: MetricSet = MetricSet {
    dimensions: &[&["Service"]],
    metrics: &[
        ("OutboxPending", "Count"),
        ("OutboxOldestAge", "Milliseconds"),
    ],
};

/// Every metric the code emits, for what alarms and dashboards may name.
pub const EMITTED: [&MetricSet; 2] = [&REQUEST_METRICS, &OUTBOX_METRICS];

static REDIS_ERRORS: AtomicU64 = AtomicU64::new(0);
static DATABASE_ERRORS: AtomicU64 = AtomicU64::new(0);
static DATABASE_THROTTLES: AtomicU64 = AtomicU64::new(0);

type Sink = Box<dyn Fn(&str) + Send + Sync>;
static SINK: OnceLock<Sink> = OnceLock::new();

/// Counts one failed or timed-out Redis call (reported with the next request's line).
pub fn count_redis_error() {
    REDIS_ERRORS.fetch_add(1, Ordering::Relaxed);
}

/// Counts one Data API call that failed for good (the database unavailable, a bug, a missing
/// grant; not a client's conflict or an expensive query), and whether the Data API throttled it.
/// Reported with the next request's line.
pub fn count_database_error(throttled: bool) {
    DATABASE_ERRORS.fetch_add(1, Ordering::Relaxed);
    if throttled {
        DATABASE_THROTTLES.fetch_add(1, Ordering::Relaxed);
    }
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
/// dimension). `cache` is the `X-Cache` value, if any. Returns whether it did (on Lambda, or
/// when captured): the line then serves as the access log.
pub fn record_request(
    method: &str,
    path: &str,
    status: u16,
    latency: Duration,
    cache: Option<&str>,
) -> bool {
    if !enabled() {
        return false;
    }
    let flag = |value: &str| u8::from(cache == Some(value));
    emit(
        &REQUEST_METRICS,
        serde_json::json!({
            "Route": format!("{method} {path}"),
            "StatusCode": status,
            "Cache": cache.unwrap_or("-"),
            "Latency": latency.as_secs_f64() * 1000.0,
            "CacheHit": flag("HIT"),
            "CacheMiss": flag("MISS"),
            "CacheBypass": flag("BYPASS"),
            "RedisErrors": REDIS_ERRORS.swap(0, Ordering::Relaxed),
            "DatabaseErrors": DATABASE_ERRORS.swap(0, Ordering::Relaxed),
            "DatabaseThrottles": DATABASE_THROTTLES.swap(0, Ordering::Relaxed),
        }),
    );
    true
}

/// Emits the outbox backlog as the sweeper sees it on a poll: the invalidations not applied yet
/// and how long the oldest has waited (0 when none). Past a few seconds, readers may be served
/// stale data: the figure to alarm on.
pub fn record_outbox_backlog(pending: i64, oldest_age: Duration) {
    if !enabled() {
        return;
    }
    emit(
        &OUTBOX_METRICS,
        serde_json::json!({
            "OutboxPending": pending,
            "OutboxOldestAge": oldest_age.as_millis() as u64,
        }),
    );
}

/// One EMF line: `fields` (the metrics' values and the dimensions but `Service`, which is the
/// function's name) under the `_aws` metadata that declares the metrics of `set`.
fn emit(set: &MetricSet, mut fields: serde_json::Value) {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let service = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into());
    let metrics: Vec<_> = set
        .metrics
        .iter()
        .map(|(name, unit)| serde_json::json!({"Name": name, "Unit": unit}))
        .collect();
    fields["Service"] = service.into();
    fields["_aws"] = serde_json::json!({
        "Timestamp": timestamp,
        "CloudWatchMetrics": [{
            "Namespace": NAMESPACE,
            "Dimensions": set.dimensions,
            "Metrics": metrics,
        }],
    });
    let line = fields.to_string();
    match SINK.get() {
        Some(sink) => sink(&line),
        None => println!("{line}"),
    }
}
