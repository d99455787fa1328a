//! The four s3-ops series as one prometheus `Collector`: it sums the shards and reads the
//! breakers' states at scrape time.

use std::collections::HashMap;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};

use super::store::store;
use super::{
    OperationResult, CIRCUIT_BREAKER_STATE, DURATION_BUCKETS, OPERATIONS_TOTAL,
    OPERATION_DURATION_SECONDS, RETRY_ATTEMPTS_TOTAL,
};

pub(crate) struct S3OpsCollector {
    descs: Vec<Desc>,
}

/// `(name, help, labels)` of each series.
const FAMILIES: [(&str, &str, &[&str]); 4] = [
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

        let states = store
            .breaker_states()
            .into_iter()
            .map(|(name, state)| {
                let mut gauge = Gauge::default();
                gauge.set_value(f64::from(state as u8));
                let mut metric = Metric::default();
                metric.set_label(labels(&[("circuit_name", &name)]));
                metric.set_gauge(gauge);
                metric
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
        ]
    }
}
