//! The Prometheus exposition after a scripted scenario over the wire: every series and label
//! of the original recipe, with exact values, read from `s3_ops_runtime::metrics::render()` the way a
//! scraper reads it.
//!
//! This is the only test in the binary that calls `copy_object` through an annotated method:
//! `s3_retry_attempts_total` is labelled by operation only, so any other `copy_object` call in
//! this process would change the counts asserted here (see `main.rs`).

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_s3::Client;
use s3_ops_runtime::metrics::{self, OperationResult, DURATION_BUCKETS};
use s3_ops_runtime::{s3_operation, BreakerConfig, CircuitBreaker, CircuitState, S3Error};
use s3_ops_testkit::FaultCode;

use crate::services::wait_for_state;
use crate::target::Wire;

/// The operation this test owns in this binary.
const OP: &str = "copy_object";

/// Copies objects within one bucket behind an upload breaker.
struct Copier {
    client: Client,
    bucket: String,
    upload_circuit: CircuitBreaker,
}

impl Copier {
    #[s3_operation(class = "upload", op = "copy_object", bucket = self.bucket, base_delay = "100ms", max_delay = "400ms")]
    async fn copy(&self, from: &str, to: &str) -> Result<(), S3Error> {
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(format!("{}/{from}", self.bucket))
            .key(to)
            .send()
            .await?;
        Ok(())
    }
}

/// One sample of the text exposition: `name{label="value",...} value`.
#[derive(Clone, Debug, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the sample lines of the Prometheus text format (comments skipped). Label values are
/// unescaped (`\\`, `\"`, `\n`).
fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| parse_line(line).unwrap_or_else(|| panic!("unparseable sample: {line:?}")))
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_owned();
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = inner;
        loop {
            rest = rest.trim_start_matches(',');
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = rest.find('=')?;
            let key = rest[..eq].to_owned();
            rest = rest[eq + 1..].strip_prefix('"')?;
            let mut value = String::new();
            let mut chars = rest.char_indices();
            let closing = loop {
                match chars.next()? {
                    (_, '\\') => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    (i, '"') => break i,
                    (_, other) => value.push(other),
                }
            };
            rest = &rest[closing + 1..];
            labels.insert(key, value);
        }
    }
    let value = match rest.split_whitespace().next()? {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// The samples of `name` whose labels include `want`.
fn select<'a>(samples: &'a [Sample], name: &str, want: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            want.iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(v))
        })
        .collect()
}

/// The value of the one sample of `name` with exactly the labels `want`.
fn value(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> f64 {
    match select(samples, name, want).as_slice() {
        [one] => {
            let keys: Vec<&str> = one.labels.keys().map(String::as_str).collect();
            let mut expected: Vec<&str> = want.iter().map(|(k, _)| *k).collect();
            expected.sort_unstable();
            assert_eq!(keys, expected, "labels of {name}");
            one.value
        }
        [] => panic!("no sample {name}{want:?}"),
        many => panic!("{} samples {name}{want:?}: {many:?}", many.len()),
    }
}

fn scrape() -> Vec<Sample> {
    parse(&metrics::render())
}

#[test]
fn the_parser_reads_labels_escapes_and_bare_samples() {
    let samples = parse(
        "# HELP x help\n# TYPE x counter\nx{a=\"1\",b=\"q\\\"uo\\\\te\\n\"} 3\nup 1\n\
         h_bucket{le=\"+Inf\"} 2\n",
    );
    assert_eq!(samples.len(), 3);
    assert_eq!(samples[0].labels["b"], "q\"uo\\te\n");
    assert_eq!(
        value(&samples, "x", &[("a", "1"), ("b", "q\"uo\\te\n")]),
        3.0
    );
    assert_eq!(value(&samples, "up", &[]), 1.0);
    assert_eq!(value(&samples, "h_bucket", &[("le", "+Inf")]), 2.0);
}

#[tokio::test]
async fn metrics_after_a_scripted_scenario() {
    Wire::embedded("metrics_scenario")
        .await
        .run(|wire| async move {
            let bucket = wire.create_bucket("b").await;
            let circuit_name = format!("{bucket}-upload");
            let copier = Copier {
                client: wire.client().clone(),
                bucket: bucket.clone(),
                upload_circuit: CircuitBreaker::with_config(
                    circuit_name.clone(),
                    BreakerConfig {
                        open_timeout: Duration::from_secs(60),
                        ..BreakerConfig::default()
                    },
                ),
            };
            let faults = wire.faults();
            wire.put_plain(&bucket, "source", b"source".to_vec()).await;
            let gauge = |name: &str| {
                value(
                    &scrape(),
                    "s3_circuit_breaker_state",
                    &[("circuit_name", name)],
                )
            };
            assert_eq!(gauge(&circuit_name), 0.0);

            // 1. success at once: attempt 1.
            copier.copy("source", "a").await.unwrap();
            // 2. success on the third attempt: attempts 1, 2, 3.
            faults.fail_next(OP, FaultCode::SlowDown, 2);
            copier.copy("source", "b").await.unwrap();
            // 3. a client error, not retried: attempt 1.
            faults.fail_next(OP, FaultCode::NoSuchKey, 1);
            copier.copy("source", "c").await.unwrap_err();
            // 4. transient failures until the attempts run out: attempts 1, 2, 3.
            faults.fail_next(OP, FaultCode::InternalError, 3);
            copier.copy("source", "d").await.unwrap_err();
            assert_eq!(faults.requests(OP), 8);
            // 5. refused by the open circuit: no attempt, no duration.
            for _ in 0..5 {
                copier.upload_circuit.record_failure();
            }
            assert_eq!(gauge(&circuit_name), 2.0);
            assert!(copier
                .copy("source", "e")
                .await
                .unwrap_err()
                .is_circuit_open());
            assert_eq!(faults.requests(OP), 8);
            // 6. closed again, success at once: attempt 1.
            copier.upload_circuit.reset();
            assert_eq!(gauge(&circuit_name), 0.0);
            copier.copy("source", "f").await.unwrap();

            let samples = scrape();
            let ops = |result: &str| {
                value(
                    &samples,
                    "s3_operations_total",
                    &[("operation", OP), ("bucket", &bucket), ("result", result)],
                )
            };
            assert_eq!(
                (ops("success"), ops("error"), ops("circuit_open")),
                (3.0, 2.0, 1.0)
            );
            assert_eq!(
                select(&samples, "s3_operations_total", &[("bucket", &bucket)]).len(),
                3,
                "one series per result, for this bucket only"
            );
            // The read API agrees with the exposition.
            for (result, n) in [
                (OperationResult::Success, 3),
                (OperationResult::Error, 2),
                (OperationResult::CircuitOpen, 1),
            ] {
                assert_eq!(metrics::operations_total(OP, &bucket, result), n);
            }

            let attempts = |attempt: &str| {
                value(
                    &samples,
                    "s3_retry_attempts_total",
                    &[("operation", OP), ("attempt", attempt)],
                )
            };
            assert_eq!(
                (attempts("1"), attempts("2"), attempts("3")),
                (5.0, 2.0, 2.0)
            );
            assert_eq!(
                select(&samples, "s3_retry_attempts_total", &[("operation", OP)]).len(),
                3,
                "no attempt beyond max_attempts"
            );

            // Five calls observed; the refused one is not.
            let labels = [("operation", OP), ("bucket", bucket.as_str())];
            let count = value(&samples, "s3_operation_duration_seconds_count", &labels);
            assert_eq!(count, 5.0);
            let sum = value(&samples, "s3_operation_duration_seconds_sum", &labels);
            // Calls 2 and 4 each slept two backoffs of at least 50 ms and 100 ms (jitter keeps
            // the upper half): the duration covers the whole call, not one attempt.
            assert!(sum >= 0.300, "sum {sum}");
            let buckets = select(&samples, "s3_operation_duration_seconds_bucket", &labels);
            let mut bounds: Vec<(f64, f64)> = buckets
                .iter()
                .map(|s| {
                    let le = match s.labels["le"].as_str() {
                        "+Inf" => f64::INFINITY,
                        le => le.parse().unwrap(),
                    };
                    (le, s.value)
                })
                .collect();
            bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
            let les: Vec<f64> = bounds.iter().map(|b| b.0).collect();
            let expected_les: Vec<f64> = DURATION_BUCKETS
                .iter()
                .copied()
                .chain([f64::INFINITY])
                .collect();
            assert_eq!(les, expected_les);
            assert!(bounds.windows(2).all(|w| w[0].1 <= w[1].1), "{bounds:?}");
            assert_eq!(bounds.last().unwrap().1, 5.0);
            // Calls 2 and 4 took at least 150 ms, so at most 3 calls are under 100 ms; a
            // duration that left out the backoff would put all 5 there.
            assert!(
                value(
                    &samples,
                    "s3_operation_duration_seconds_bucket",
                    &[("operation", OP), ("bucket", &bucket), ("le", "0.1")]
                ) <= 3.0
            );
            let summary = metrics::operation_duration(OP, &bucket).unwrap();
            assert_eq!(summary.count, 5);

            for family in [
                "# TYPE s3_operations_total counter",
                "# TYPE s3_operation_duration_seconds histogram",
                "# TYPE s3_circuit_breaker_state gauge",
                "# TYPE s3_retry_attempts_total counter",
            ] {
                assert!(metrics::render().contains(family), "{family}");
            }

            // The gauge is current at every scrape: half-open once the timeout has elapsed.
            let probe_name = format!("{bucket}-probe");
            let probe = CircuitBreaker::with_config(
                probe_name.clone(),
                BreakerConfig {
                    open_timeout: Duration::from_millis(20),
                    ..BreakerConfig::default()
                },
            );
            assert_eq!(gauge(&probe_name), 0.0);
            for _ in 0..5 {
                probe.record_failure();
            }
            wait_for_state(&probe, CircuitState::HalfOpen).await;
            assert_eq!(gauge(&probe_name), 1.0);
            probe.record_success();
            probe.record_success();
            assert_eq!(gauge(&probe_name), 0.0);
        })
        .await;
}
