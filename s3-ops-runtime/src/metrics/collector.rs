//! The s3-ops series as one prometheus `Collector`: it sums the shards and reads the live
//! breakers' reports at scrape time.

use std::collections::HashMap;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};

use super::store::store;
use super::{
    OperationResult, CIRCUIT_BREAKER_OVERRIDE, CIRCUIT_BREAKER_STATE,
    CIRCUIT_BREAKER_TRANSITIONS_TOTAL, DURATION_BUCKETS, HEDGED_ATTEMPTS_TOTAL, OPERATIONS_TOTAL,
    OPERATION_DURATION_SECONDS, RETRIES_SKIPPED_TOTAL, RETRY_ATTEMPTS_TOTAL,
};
use crate::breaker::registry::{self, BreakerReport};
use crate::breaker::{BreakerOverride, CircuitState};

pub(crate) struct S3OpsCollector {
    descs: Vec<Desc>,
}

/// `(name, help, labels)` of each series.
const FAMILIES: [(&str, &str, &[&str]); 8] = [
    (
        OPERATIONS_TOTAL,
        "S3 operations by outcome: success, error (after retries) or circuit_open (failed fast)",
        &["operation", "bucket", "result"],
    ),
    (
        OPERATION_DURATION_SECONDS,
        "Duration of whole S3 operations, retries and backoff included",
        &["operation", "bucket"],
    ),
    (
        CIRCUIT_BREAKER_STATE,
        "Circuit breaker state: 0 closed, 1 half-open, 2 open",
        &["circuit_name"],
    ),
    (
        RETRY_ATTEMPTS_TOTAL,
        "Attempts made per S3 operation, by attempt number (1 is the first try)",
        &["operation", "attempt"],
    ),
    (
        RETRIES_SKIPPED_TOTAL,
        "Retries not made, by reason: budget (retry budget empty), circuit_open, deadline",
        &["operation", "reason"],
    ),
    (
        CIRCUIT_BREAKER_OVERRIDE,
        "Operator override of a circuit breaker: 0 none, 1 held open, 2 disabled",
        &["circuit_name"],
    ),
    (
        CIRCUIT_BREAKER_TRANSITIONS_TOTAL,
        "Circuit breaker state changes, by state left and state entered",
        &["circuit_name", "from", "to"],
    ),
    (
        HEDGED_ATTEMPTS_TOTAL,
        "Hedged attempts (a second request for a slow read), by outcome: won or lost",
        &["operation", "outcome"],
    ),
];

impl S3OpsCollector {
    pub(crate) fn new() -> Self {
        let descs = FAMILIES
            .iter()
            .map(|(name, help, labels)| {
                Desc::new(
                    (*name).to_owned(),
                    (*help).to_owned(),
                    labels.iter().map(|l| (*l).to_owned()).collect(),
                    HashMap::new(),
                )
                .expect("the s3-ops metric names and labels are valid")
            })
            .collect();
        Self { descs }
    }
}

fn family(index: usize, kind: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    let (name, help, _) = FAMILIES[index];
    let mut family = MetricFamily::default();
    family.set_name(name.to_owned());
    family.set_help(help.to_owned());
    family.set_field_type(kind);
    family.set_metric(metrics);
    family
}

fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
    pairs
        .iter()
        .map(|(name, value)| {
            let mut pair = LabelPair::default();
            pair.set_name((*name).to_owned());
            pair.set_value((*value).to_owned());
            pair
        })
        .collect()
}

fn counter(value: u64, label_pairs: Vec<LabelPair>) -> Metric {
    let mut counter = Counter::default();
    counter.set_value(value as f64);
    let mut metric = Metric::default();
    metric.set_label(label_pairs);
    metric.set_counter(counter);
    metric
}

fn gauge(value: f64, label_pairs: Vec<LabelPair>) -> Metric {
    let mut gauge = Gauge::default();
    gauge.set_value(value);
    let mut metric = Metric::default();
    metric.set_label(label_pairs);
    metric.set_gauge(gauge);
    metric
}

/// One report per circuit name, sorted so scrapes are stable. Breakers sharing a name report
/// the worst state and the strongest override among them, and their transitions added up.
fn breaker_reports() -> Vec<BreakerReport> {
    let mut by_name: Vec<BreakerReport> = Vec::new();
    for report in registry::reports() {
        match by_name.iter_mut().find(|b| b.name == report.name) {
            Some(same) => {
                same.state = worst(same.state, report.state);
                if report.held != BreakerOverride::None {
                    same.held = report.held;
                }
                for (row, other) in same.transitions.iter_mut().zip(report.transitions) {
                    for (count, other) in row.iter_mut().zip(other) {
                        *count += other;
                    }
                }
            }
            None => by_name.push(report),
        }
    }
    by_name.sort_by(|a, b| a.name.cmp(&b.name));
    by_name
}

/// Open is worse than half-open, which is worse than closed.
fn worst(a: CircuitState, b: CircuitState) -> CircuitState {
    if (b as u8) > (a as u8) {
        b
    } else {
        a
    }
}

impl Collector for S3OpsCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let store = store();
        let ops = store.all_ops();

        let mut totals = Vec::new();
        let mut durations = Vec::new();
        for series in &ops {
            for result in OperationResult::ALL {
                let value = series.result_total(result);
                // A result that never happened stays absent, like a labelled prometheus vec.
                if value > 0 {
                    totals.push(counter(
                        value,
                        labels(&[
                            ("operation", series.operation),
                            ("bucket", &series.bucket),
                            ("result", result.as_str()),
                        ]),
                    ));
                }
            }
            let (counts, sum) = series.duration();
            let observed: u64 = counts.iter().sum();
            if observed > 0 {
                let mut cumulative = 0;
                let buckets = DURATION_BUCKETS
                    .iter()
                    .zip(&counts)
                    .map(|(upper, count)| {
                        cumulative += count;
                        let mut bucket = Bucket::default();
                        bucket.set_upper_bound(*upper);
                        bucket.set_cumulative_count(cumulative);
                        bucket
                    })
                    .collect();
                let mut histogram = Histogram::default();
                histogram.set_sample_count(observed);
                histogram.set_sample_sum(sum.as_secs_f64());
                histogram.set_bucket(buckets);
                let mut metric = Metric::default();
                metric.set_label(labels(&[
                    ("operation", series.operation),
                    ("bucket", &series.bucket),
                ]));
                metric.set_histogram(histogram);
                durations.push(metric);
            }
        }

        let breakers = breaker_reports();
        let states = breakers
            .iter()
            .map(|b| {
                gauge(
                    f64::from(b.state as u8),
                    labels(&[("circuit_name", &b.name)]),
                )
            })
            .collect();
        let overrides = breakers
            .iter()
            .map(|b| {
                gauge(
                    f64::from(b.held as u8),
                    labels(&[("circuit_name", &b.name)]),
                )
            })
            .collect();
        let mut transitions = Vec::new();
        for b in &breakers {
            for from in CircuitState::ALL {
                for to in CircuitState::ALL {
                    let value = b.transitions[from as usize][to as usize];
                    if value > 0 {
                        transitions.push(counter(
                            value,
                            labels(&[
                                ("circuit_name", &b.name),
                                ("from", from.as_str()),
                                ("to", to.as_str()),
                            ]),
                        ));
                    }
                }
            }
        }
        let skipped = store
            .all_skipped()
            .into_iter()
            .map(|((operation, reason), count)| {
                counter(
                    count.sum(),
                    labels(&[("operation", operation), ("reason", reason.as_str())]),
                )
            })
            .collect();

        let hedged = store
            .all_hedged()
            .into_iter()
            .map(|((operation, outcome), count)| {
                counter(
                    count.sum(),
                    labels(&[("operation", operation), ("outcome", outcome.as_str())]),
                )
            })
            .collect();

        let attempts = store
            .all_attempts()
            .into_iter()
            .filter_map(|series| {
                let value = series.counter.sum();
                (value > 0).then(|| {
                    counter(
                        value,
                        labels(&[
                            ("operation", series.operation),
                            ("attempt", &series.attempt.to_string()),
                        ]),
                    )
                })
            })
            .collect();

        vec![
            family(0, MetricType::COUNTER, totals),
            family(1, MetricType::HISTOGRAM, durations),
            family(2, MetricType::GAUGE, states),
            family(3, MetricType::COUNTER, attempts),
            family(4, MetricType::COUNTER, skipped),
            family(5, MetricType::GAUGE, overrides),
            family(6, MetricType::COUNTER, transitions),
            family(7, MetricType::COUNTER, hedged),
        ]
    }
}
