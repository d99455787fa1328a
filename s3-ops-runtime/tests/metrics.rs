//! The Prometheus series after scripted calls through `Operation::run` (and the attribute, for
//! its `bucket` label): exact counts, the text exposition's names and label sets, and the
//! breaker state gauge.
//!
//! Metrics are process-global: every test uses operation, bucket and circuit names of its own.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use s3_ops_runtime::metrics::{self, OperationResult};
use s3_ops_runtime::retry::{Jitter, RetryPolicy};
use s3_ops_runtime::{CircuitBreaker, Operation, OperationClass, S3Error};
use support::{samples, value, Sample};

fn exact(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        jitter: Jitter::None,
        ..RetryPolicy::DEFAULT
    }
}

fn label_names(sample: &Sample) -> BTreeSet<&str> {
    sample.labels.keys().map(String::as_str).collect()
}

fn slow_down() -> S3Error {
    S3Error::service("SlowDown", Some(503))
}

/// Runs the scenario of the two tests below on `operation`/`bucket`:
/// 1. SlowDown, SlowDown, Ok (3 s of backoff)  → success, attempts 1 2 3
/// 2. Ok                                       → success, attempt 1
/// 3. NoSuchKey                                → error, attempt 1
/// 4. SlowDown ×3 (3 s of backoff)             → error, attempts 1 2 3
/// 5. circuit forced open                      → circuit_open, no attempt
async fn scenario(op: &Operation, breaker: &CircuitBreaker, bucket: &str) {
    let script = |errors: Vec<S3Error>| {
        let errors = std::sync::Mutex::new(errors.into_iter());
        move || {
            let next = errors.lock().unwrap().next();
            async move { next.map_or(Ok(()), Err) }
        }
    };
    op.run(breaker, bucket, script(vec![slow_down(), slow_down()]))
        .await
        .unwrap();
    op.run(breaker, bucket, script(vec![])).await.unwrap();
    op.run(
        breaker,
        bucket,
        script(vec![S3Error::service("NoSuchKey", Some(404))]),
    )
    .await
    .unwrap_err();
    op.run(
        breaker,
        bucket,
        script(vec![slow_down(), slow_down(), slow_down()]),
    )
    .await
    .unwrap_err();
    breaker.force_open();
    let refused = op.run(breaker, bucket, script(vec![])).await.unwrap_err();
    assert!(refused.is_circuit_open());
}

#[tokio::test(start_paused = true)]
async fn a_scripted_scenario_is_counted_exactly() {
    const OP: &str = "metrics_scenario_op";
    const BUCKET: &str = "metrics-scenario-bucket";
    let op = Operation::with_policy(OperationClass::Upload, OP, exact(3));
    let breaker = CircuitBreaker::new("metrics-scenario-circuit");
    scenario(&op, &breaker, BUCKET).await;

    assert_eq!(
        metrics::operations_total(OP, BUCKET, OperationResult::Success),
        2
    );
    assert_eq!(
        metrics::operations_total(OP, BUCKET, OperationResult::Error),
        2
    );
    assert_eq!(
        metrics::operations_total(OP, BUCKET, OperationResult::CircuitOpen),
        1
    );
    assert_eq!(
        metrics::operations_total(OP, "some-other-bucket", OperationResult::Success),
        0
    );

    assert_eq!(metrics::retry_attempts_total(OP, 1), 4);
    assert_eq!(metrics::retry_attempts_total(OP, 2), 2);
    assert_eq!(metrics::retry_attempts_total(OP, 3), 2);
    assert_eq!(metrics::retry_attempts_total(OP, 4), 0);

    // Whole calls, backoff included; a call refused by the circuit is not observed.
    let duration = metrics::operation_duration(OP, BUCKET).expect("observed");
    assert_eq!(duration.count, 4);
    assert_eq!(duration.sum, Duration::from_secs(6));
    let cumulative = |upper: f64| {
        duration
            .buckets
            .iter()
            .find(|(bound, _)| *bound == upper)
            .map(|(_, count)| *count)
    };
    assert_eq!(cumulative(0.001), Some(2), "{:?}", duration.buckets);
    assert_eq!(cumulative(2.5), Some(2));
    assert_eq!(cumulative(5.0), Some(4));
    assert_eq!(cumulative(f64::INFINITY), Some(4));
    assert_eq!(
        duration.buckets.len(),
        metrics::DURATION_BUCKETS.len() + 1,
        "one bucket per bound, then +Inf"
    );
    assert!(metrics::operation_duration(OP, "never-used-bucket").is_none());
}

#[tokio::test(start_paused = true)]
async fn render_exposes_the_four_series_with_their_exact_labels() {
    const OP: &str = "metrics_render_op";
    const BUCKET: &str = "metrics-render-bucket";
    const CIRCUIT: &str = "metrics-render-circuit";
    let op = Operation::with_policy(OperationClass::Download, OP, exact(3));
    let breaker = CircuitBreaker::new(CIRCUIT);
    scenario(&op, &breaker, BUCKET).await;

    let text = metrics::render();
    for (name, kind) in [
        ("s3_operations_total", "counter"),
        ("s3_operation_duration_seconds", "histogram"),
        ("s3_circuit_breaker_state", "gauge"),
        ("s3_retry_attempts_total", "counter"),
    ] {
        assert!(
            text.lines().any(|l| l == format!("# TYPE {name} {kind}")),
            "no `# TYPE {name} {kind}` in:\n{text}"
        );
    }
    let all = samples(&text);

    // Exact label sets, for every sample of each series (not only this test's).
    for sample in &all {
        let expected: &[&str] = match sample.name.as_str() {
            "s3_operations_total" => &["bucket", "operation", "result"],
            "s3_operation_duration_seconds_bucket" => &["bucket", "le", "operation"],
            "s3_operation_duration_seconds_sum" | "s3_operation_duration_seconds_count" => {
                &["bucket", "operation"]
            }
            "s3_circuit_breaker_state" => &["circuit_name"],
            "s3_retry_attempts_total" => &["attempt", "operation"],
            _ => continue,
        };
        assert_eq!(
            label_names(sample),
            expected.iter().copied().collect(),
            "{sample:?}"
        );
    }

    let total = |result| {
        value(
            &all,
            "s3_operations_total",
            &[("operation", OP), ("bucket", BUCKET), ("result", result)],
        )
    };
    assert_eq!(total("success"), Some(2.0));
    assert_eq!(total("error"), Some(2.0));
    assert_eq!(total("circuit_open"), Some(1.0));

    let attempts = |n| {
        value(
            &all,
            "s3_retry_attempts_total",
            &[("operation", OP), ("attempt", n)],
        )
    };
    assert_eq!(attempts("1"), Some(4.0));
    assert_eq!(attempts("2"), Some(2.0));
    assert_eq!(attempts("3"), Some(2.0));
    assert_eq!(attempts("4"), None);

    let series = [("operation", OP), ("bucket", BUCKET)];
    assert_eq!(
        value(&all, "s3_operation_duration_seconds_count", &series),
        Some(4.0)
    );
    assert_eq!(
        value(&all, "s3_operation_duration_seconds_sum", &series),
        Some(6.0)
    );
    assert_eq!(
        value(
            &all,
            "s3_operation_duration_seconds_bucket",
            &[("operation", OP), ("bucket", BUCKET), ("le", "5")]
        ),
        Some(4.0)
    );
    assert_eq!(
        value(
            &all,
            "s3_operation_duration_seconds_bucket",
            &[("operation", OP), ("bucket", BUCKET), ("le", "+Inf")]
        ),
        Some(4.0)
    );

    assert_eq!(
        value(
            &all,
            "s3_circuit_breaker_state",
            &[("circuit_name", CIRCUIT)]
        ),
        Some(2.0),
        "forced open at the end of the scenario"
    );
}

fn gauge(circuit: &str) -> Option<f64> {
    value(
        &samples(&metrics::render()),
        "s3_circuit_breaker_state",
        &[("circuit_name", circuit)],
    )
}

#[tokio::test(start_paused = true)]
async fn the_state_gauge_follows_the_breaker_and_the_clock() {
    const CIRCUIT: &str = "metrics-gauge-circuit";
    let breaker = CircuitBreaker::new(CIRCUIT);
    assert_eq!(gauge(CIRCUIT), Some(0.0), "closed");

    for _ in 0..5 {
        breaker.record_failure();
    }
    assert_eq!(gauge(CIRCUIT), Some(2.0), "open");

    tokio::time::advance(Duration::from_secs(59)).await;
    assert_eq!(gauge(CIRCUIT), Some(2.0), "still open at 59 s");
    // Half-open by time alone: no call has been made.
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(gauge(CIRCUIT), Some(1.0), "half-open at 60 s");

    breaker.acquire().unwrap().success();
    breaker.acquire().unwrap().success();
    assert_eq!(gauge(CIRCUIT), Some(0.0), "closed again");

    breaker.force_open();
    assert_eq!(gauge(CIRCUIT), Some(2.0));
    breaker.reset();
    assert_eq!(gauge(CIRCUIT), Some(0.0));
}

#[tokio::test(start_paused = true)]
async fn the_gauge_lives_as_long_as_the_breaker() {
    const CIRCUIT: &str = "metrics-gauge-lifetime";
    assert_eq!(gauge(CIRCUIT), None);
    let breaker = CircuitBreaker::new(CIRCUIT);
    let clone = breaker.clone();
    drop(breaker);
    assert_eq!(gauge(CIRCUIT), Some(0.0), "a clone keeps it alive");
    drop(clone);
    assert_eq!(gauge(CIRCUIT), None);
}

#[tokio::test(start_paused = true)]
async fn breakers_sharing_a_name_report_the_worst_state() {
    const CIRCUIT: &str = "metrics-gauge-shared-name";
    let a = CircuitBreaker::new(CIRCUIT);
    let b = CircuitBreaker::new(CIRCUIT);
    b.force_open();
    assert_eq!(gauge(CIRCUIT), Some(2.0));
    let samples = samples(&metrics::render());
    let count = samples
        .iter()
        .filter(|s| {
            s.name == metrics::CIRCUIT_BREAKER_STATE
                && s.labels.get("circuit_name").map(String::as_str) == Some(CIRCUIT)
        })
        .count();
    assert_eq!(count, 1, "one series per circuit name");
    drop((a, b));
}

#[tokio::test(start_paused = true)]
async fn every_attempt_made_is_counted_even_with_a_zero_attempt_policy() {
    // `max_attempts: 0` is accepted by `Operation::with_policy` (only the attribute rejects
    // it) and still makes one attempt; the metrics' contract: one `s3_retry_attempts_total` per attempt made.
    const OP: &str = "metrics_zero_attempts_op";
    let op = Operation::with_policy(OperationClass::Upload, OP, exact(0));
    let breaker = CircuitBreaker::new("metrics-zero-attempts");
    let attempts = std::sync::atomic::AtomicU32::new(0);
    op.run(&breaker, "metrics-zero-attempts-bucket", || async {
        attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok::<_, S3Error>(())
    })
    .await
    .unwrap();
    let made = attempts.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(made, 1);
    assert_eq!(metrics::retry_attempts_total(OP, 1), u64::from(made));
}

/// The attribute's `bucket = …` labels the call's series with that bucket, whatever borrows as
/// `&str` (a `String` field, a `&'static str`).
#[tokio::test]
async fn the_attribute_labels_a_call_with_its_bucket_argument() {
    struct Store {
        bucket: String,
        upload_circuit: CircuitBreaker,
    }
    impl Store {
        #[s3_ops_runtime::s3_operation(class = "upload", op = "put_bucket_tagging", bucket = self.bucket)]
        async fn tag(&self) -> Result<(), S3Error> {
            Ok(())
        }

        #[s3_ops_runtime::s3_operation(
            class = "upload",
            op = "put_bucket_versioning",
            bucket = "fixed-bucket-label"
        )]
        async fn version(&self) -> Result<(), S3Error> {
            Ok(())
        }
    }
    let store = Store {
        bucket: "field-bucket-label".to_owned(),
        upload_circuit: CircuitBreaker::new("bucket-label-circuit"),
    };
    store.tag().await.unwrap();
    store.version().await.unwrap();
    let success = OperationResult::Success;
    assert_eq!(
        metrics::operations_total("put_bucket_tagging", "field-bucket-label", success),
        1
    );
    assert_eq!(
        metrics::operations_total("put_bucket_versioning", "fixed-bucket-label", success),
        1
    );
    // Results that never happened have no series, as with a labelled prometheus vec.
    let all = samples(&metrics::render());
    let series = |result| {
        let labels = [
            ("operation", "put_bucket_tagging"),
            ("bucket", "field-bucket-label"),
            ("result", result),
        ];
        value(&all, "s3_operations_total", &labels)
    };
    assert_eq!(series("success"), Some(1.0));
    assert_eq!(series("error"), None);
    assert_eq!(series("circuit_open"), None);
}
