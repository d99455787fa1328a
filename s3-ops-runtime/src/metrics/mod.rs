//! Prometheus metrics of every S3 operation:
//!
//! | series | labels | what |
//! |---|---|---|
//! | `s3_operations_total` | `operation`, `bucket`, `result` | calls, by `success` / `error` / `circuit_open` |
//! | `s3_operation_duration_seconds` | `operation`, `bucket` | histogram of whole calls (retries and backoff included; fast fails are not observed) |
//! | `s3_circuit_breaker_state` | `circuit_name` | 0 closed, 1 half-open, 2 open, read at scrape time so it is always current |
//! | `s3_retry_attempts_total` | `operation`, `attempt` | one per attempt made: `"1"`, `"2"`, … |
//! | `s3_retries_skipped_total` | `operation`, `reason` | retries not made: `budget` (the retry budget was empty), `circuit_open` (the circuit opened meanwhile), `deadline` (the backoff would end past the call's deadline) |
//! | `s3_hedged_attempts_total` | `operation`, `outcome` | hedges sent (`hedge = …`, downloads only): `won` (the hedge's answer was the attempt's), `lost` (the attempt it hedged answered first, or neither succeeded) |
//! | `s3_circuit_breaker_override` | `circuit_name` | 0 none, 1 held open, 2 disabled by an operator |
//! | `s3_circuit_breaker_transitions_total` | `circuit_name`, `from`, `to` | state changes: `closed`, `open`, `half_open` |
//!
//! The series are exposed through one [`prometheus::core::Collector`], registered on the
//! prometheus default registry unless you [`register`] it on your own first. Call sites resolve
//! their series once and then only touch per-thread atomics: no label lookup and no shared cache
//! line on the hot path.
//!
//! A cancelled call (its future dropped) counts its attempts but no result.
//!
//! The `bucket` label is bounded: after [`DEFAULT_BUCKET_LABEL_LIMIT`] distinct buckets (see
//! [`set_bucket_label_limit`]) new ones are counted as `bucket="other"`, so bucket names that
//! come from users cannot explode Prometheus' memory.

mod collector;
#[cfg(feature = "metrics-server")]
mod server;
pub(crate) mod shard;
pub(crate) mod store;

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use prometheus::{Encoder, Registry, TextEncoder};

#[cfg(feature = "metrics-server")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics-server")))]
pub use server::MetricsServer;
pub use store::{DEFAULT_BUCKET_LABEL_LIMIT, OTHER_BUCKET};

use collector::S3OpsCollector;

/// `s3_operations_total`
pub const OPERATIONS_TOTAL: &str = "s3_operations_total";
/// `s3_operation_duration_seconds`
pub const OPERATION_DURATION_SECONDS: &str = "s3_operation_duration_seconds";
/// `s3_circuit_breaker_state`
pub const CIRCUIT_BREAKER_STATE: &str = "s3_circuit_breaker_state";
/// `s3_retry_attempts_total`
pub const RETRY_ATTEMPTS_TOTAL: &str = "s3_retry_attempts_total";
/// `s3_retries_skipped_total`
pub const RETRIES_SKIPPED_TOTAL: &str = "s3_retries_skipped_total";
/// `s3_hedged_attempts_total`
pub const HEDGED_ATTEMPTS_TOTAL: &str = "s3_hedged_attempts_total";
/// `s3_circuit_breaker_override`
pub const CIRCUIT_BREAKER_OVERRIDE: &str = "s3_circuit_breaker_override";
/// `s3_circuit_breaker_transitions_total`
pub const CIRCUIT_BREAKER_TRANSITIONS_TOTAL: &str = "s3_circuit_breaker_transitions_total";

/// Upper bounds (seconds) of the duration histogram's buckets: from a fast local call to a
/// call that spent its retries in backoff.
pub const DURATION_BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

pub(crate) const DURATION_BUCKETS_NANOS: [u64; 15] = {
    let mut nanos = [0u64; 15];
    let mut i = 0;
    while i < nanos.len() {
        nanos[i] = (DURATION_BUCKETS[i] * 1e9) as u64;
        i += 1;
    }
    nanos
};

/// The `result` label of `s3_operations_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OperationResult {
    /// The call returned `Ok`.
    Success = 0,
    /// The call returned `Err` after its attempts.
    Error = 1,
    /// An open circuit refused the call; no request was sent.
    CircuitOpen = 2,
}

impl OperationResult {
    /// All results, in label order.
    pub const ALL: [OperationResult; 3] = [
        OperationResult::Success,
        OperationResult::Error,
        OperationResult::CircuitOpen,
    ];

    /// `"success"`, `"error"` or `"circuit_open"`.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationResult::Success => "success",
            OperationResult::Error => "error",
            OperationResult::CircuitOpen => "circuit_open",
        }
    }
}

/// Why a retry was not made: the `reason` label of `s3_retries_skipped_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SkippedRetry {
    /// The circuit's retry budget had too few tokens.
    Budget,
    /// The circuit opened (another call tripped it) before the retry could start.
    CircuitOpen,
    /// The backoff would have ended past the call's `deadline`.
    Deadline,
}

impl SkippedRetry {
    /// `"budget"`, `"circuit_open"` or `"deadline"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SkippedRetry::Budget => "budget",
            SkippedRetry::CircuitOpen => "circuit_open",
            SkippedRetry::Deadline => "deadline",
        }
    }
}

/// How a hedge ended: the `outcome` label of `s3_hedged_attempts_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HedgeOutcome {
    /// The hedge's answer was the attempt's: it answered first with a success or an error not
    /// worth retrying, or the attempt it hedged failed and the hedge did not.
    Won,
    /// The attempt it hedged answered first, or both failed.
    Lost,
}

impl HedgeOutcome {
    /// `"won"` or `"lost"`.
    pub fn as_str(self) -> &'static str {
        match self {
            HedgeOutcome::Won => "won",
            HedgeOutcome::Lost => "lost",
        }
    }
}

/// The registry `render` encodes: the one given to `register`, else the default.
static RENDER_REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

/// Registers the s3-ops metrics on `registry`, which [`render`] (and the metrics server) then
/// encode.
///
/// Call it at start-up, before the first breaker is created or the first operation runs: from
/// then on, without it, the metrics go to the prometheus default registry. The collector reads
/// shared cells, so registering on several registries is fine.
///
/// `registry` is a `prometheus` 0.14 [`Registry`]: your own `prometheus` dependency must be 0.14
/// for the types to match.
///
/// ```
/// use prometheus::{IntCounter, Registry};
/// use s3_ops_runtime::{metrics, CircuitBreaker};
///
/// // The application's registry, with a metric of its own.
/// let registry = Registry::new();
/// let jobs = IntCounter::new("jobs_total", "Jobs processed").unwrap();
/// registry.register(Box::new(jobs.clone())).unwrap();
///
/// // At start-up, before the first breaker is created.
/// metrics::register(&registry).unwrap();
/// let upload_circuit = CircuitBreaker::new("s3-upload");
///
/// // One exposition for both, whether encoded by `render` or from the registry.
/// let text = metrics::render();
/// assert!(text.contains("jobs_total 0"));
/// assert!(text.contains(r#"s3_circuit_breaker_state{circuit_name="s3-upload"} 0"#));
/// let families = registry.gather();
/// let text = prometheus::TextEncoder::new().encode_to_string(&families).unwrap();
/// assert!(text.contains(r#"s3_circuit_breaker_state{circuit_name="s3-upload"} 0"#));
/// # drop(upload_circuit);
/// ```
///
/// # Errors
///
/// When `registry` already has metrics of these names.
pub fn register(registry: &Registry) -> Result<(), prometheus::Error> {
    let mut render = RENDER_REGISTRY
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    registry.register(Box::new(S3OpsCollector::new()))?;
    *render = Some(registry.clone());
    Ok(())
}

/// Registers on the default registry unless `register` was called first; runs once, when the
/// metric store is first touched.
pub(crate) fn ensure_registered() {
    let mut render = RENDER_REGISTRY
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if render.is_none() {
        let default = prometheus::default_registry();
        // `AlreadyReg` only if the user registered us there themselves: fine either way.
        let _ = default.register(Box::new(S3OpsCollector::new()));
        *render = Some(default.clone());
    }
}

/// The Prometheus text exposition of the registry the metrics are registered on (everything in
/// it, not only s3-ops' series).
pub fn render() -> String {
    store::store();
    let registry = RENDER_REGISTRY
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
        .unwrap_or_else(|| prometheus::default_registry().clone());
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut out)
        .expect("the text encoder writes to a Vec, which cannot fail");
    String::from_utf8(out).expect("the text encoder writes UTF-8")
}

/// Caps the number of distinct `bucket` label values (default
/// [`DEFAULT_BUCKET_LABEL_LIMIT`]); buckets seen after the cap is reached are labelled
/// [`OTHER_BUCKET`]. Buckets already labelled keep their label.
pub fn set_bucket_label_limit(limit: usize) {
    store::store().set_bucket_label_limit(limit);
}

/// `s3_operations_total{operation, bucket, result}` as it stands: for tests and summaries.
/// `bucket` is the label (`""` for operations without a `bucket` argument).
pub fn operations_total(operation: &str, bucket: &str, result: OperationResult) -> u64 {
    store::store()
        .find_op(operation, bucket)
        .map_or(0, |series| series.result_total(result))
}

/// `s3_retry_attempts_total{operation, attempt}` as it stands.
pub fn retry_attempts_total(operation: &str, attempt: u32) -> u64 {
    store::store()
        .find_attempt(operation, attempt)
        .map_or(0, |series| series.counter.sum())
}

/// `s3_retries_skipped_total{operation, reason}` as it stands.
pub fn retries_skipped_total(operation: &str, reason: SkippedRetry) -> u64 {
    store::store()
        .all_skipped()
        .into_iter()
        .filter(|((op, r), _)| *op == operation && *r == reason)
        .map(|(_, counter)| counter.sum())
        .sum()
}

/// `s3_hedged_attempts_total{operation, outcome}` as it stands.
pub fn hedged_attempts_total(operation: &str, outcome: HedgeOutcome) -> u64 {
    store::store()
        .all_hedged()
        .into_iter()
        .filter(|((op, o), _)| *op == operation && *o == outcome)
        .map(|(_, counter)| counter.sum())
        .sum()
}

/// What `s3_operation_duration_seconds{operation, bucket}` holds.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct DurationSummary {
    /// Calls observed.
    pub count: u64,
    /// Their total duration.
    pub sum: Duration,
    /// `(upper bound in seconds, cumulative count)` per bucket, ending with `+Inf`.
    pub buckets: Vec<(f64, u64)>,
}

/// `s3_operation_duration_seconds{operation, bucket}` as it stands, if observed at all.
pub fn operation_duration(operation: &str, bucket: &str) -> Option<DurationSummary> {
    let series = store::store().find_op(operation, bucket)?;
    let (counts, sum) = series.duration();
    let bounds = DURATION_BUCKETS.iter().copied().chain([f64::INFINITY]);
    let buckets: Vec<(f64, u64)> = bounds
        .zip(counts.iter().scan(0u64, |acc, c| {
            *acc += c;
            Some(*acc)
        }))
        .collect();
    Some(DurationSummary {
        count: buckets.last().map_or(0, |b| b.1),
        sum,
        buckets,
    })
}
