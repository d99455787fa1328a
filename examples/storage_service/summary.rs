//! The closing summary: what the metrics endpoint, the breakers and the measurements say.

use std::collections::BTreeMap;
use std::time::Duration;

use s3_ops_examples::StorageService;
use s3_ops_testkit::FaultCounts;

use crate::latency::{short, Latencies};
use crate::workload::Outcome;

/// One sample of the Prometheus text exposition.
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

impl Sample {
    fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }
}

/// What the summary is made of.
pub(crate) struct Inputs<'a> {
    pub(crate) metrics_url: &'a str,
    pub(crate) exposition: &'a str,
    pub(crate) storage: &'a StorageService,
    pub(crate) latencies: &'a Latencies,
    pub(crate) workload: &'a Outcome,
    pub(crate) injected: Option<FaultCounts>,
    pub(crate) wall_time: Duration,
}

pub(crate) fn print(inputs: &Inputs<'_>) {
    let samples = parse(inputs.exposition);
    operations(&samples, inputs.metrics_url);
    retries(&samples);
    breakers(&samples, inputs.storage);
    latency(inputs.latencies);
    totals(inputs);
}

fn operations(samples: &[Sample], url: &str) {
    println!("  s3_operations_total, scraped from {url}");
    println!(
        "    {:<16} {:<16} {:>8} {:>6} {:>13}",
        "operation", "bucket", "success", "error", "circuit_open"
    );
    let mut table: BTreeMap<(&str, &str), [f64; 3]> = BTreeMap::new();
    for s in samples.iter().filter(|s| s.name == "s3_operations_total") {
        let column = match s.label("result") {
            "success" => 0,
            "error" => 1,
            "circuit_open" => 2,
            _ => continue,
        };
        table
            .entry((s.label("operation"), s.label("bucket")))
            .or_default()[column] += s.value;
    }
    for ((operation, bucket), [success, error, open]) in table {
        println!("    {operation:<16} {bucket:<16} {success:>8} {error:>6} {open:>13}");
    }
}

fn retries(samples: &[Sample]) {
    println!("  s3_retry_attempts_total: attempts made, by attempt number");
    println!(
        "    {:<16} {:>8} {:>6} {:>6}",
        "operation", "1st", "2nd", "3rd"
    );
    let mut table: BTreeMap<&str, [f64; 3]> = BTreeMap::new();
    for s in samples
        .iter()
        .filter(|s| s.name == "s3_retry_attempts_total")
    {
        if let Ok(attempt @ 1..=3) = s.label("attempt").parse::<usize>() {
            table.entry(s.label("operation")).or_default()[attempt - 1] += s.value;
        }
    }
    for (operation, [first, second, third]) in table {
        println!("    {operation:<16} {first:>8} {second:>6} {third:>6}");
    }
}

fn breakers(samples: &[Sample], storage: &StorageService) {
    println!("  circuit breakers (s3_circuit_breaker_state gauge and CircuitBreaker::stats)");
    for circuit in [storage.upload_circuit(), storage.download_circuit()] {
        let gauge = samples
            .iter()
            .find(|s| {
                s.name == "s3_circuit_breaker_state" && s.label("circuit_name") == circuit.name()
            })
            .map_or_else(|| "-".to_owned(), |s| s.value.to_string());
        let stats = circuit.stats();
        println!(
            "    {:<12} {:<9} gauge {gauge}   opened {}x, half-opened {}x, closed {}x",
            circuit.name(),
            circuit.state().as_str(),
            stats.opened,
            stats.half_opened,
            stats.closed
        );
    }
}

fn latency(latencies: &Latencies) {
    println!("  latency per service call in the workload (retries and backoff included)");
    println!(
        "    {:<28} {:>6} {:>9} {:>9} {:>9}",
        "method", "calls", "p50", "p99", "max"
    );
    for (method, stats) in latencies.percentiles() {
        println!(
            "    {method:<28} {:>6} {:>9} {:>9} {:>9}",
            stats.count,
            short(stats.p50),
            short(stats.p99),
            short(stats.max)
        );
    }
}

fn totals(inputs: &Inputs<'_>) {
    let w = inputs.workload;
    println!(
        "  documents: {} processed, {} downloads byte-identical to their upload ({:.1} MiB), {} failed",
        w.documents,
        w.verified,
        w.bytes as f64 / (1024.0 * 1024.0),
        w.failed.len()
    );
    for (job_id, failure) in &w.failed {
        println!("    {job_id}: {failure}");
    }
    if let Some(f) = inputs.injected {
        println!(
            "  faults answered by the embedded server: SlowDown {}, InternalError {}, ServiceUnavailable {}, \
             cut bodies {}, dropped connections {}, outage answers {}",
            f.slow_down,
            f.internal_error,
            f.service_unavailable,
            f.cut_bodies,
            f.dropped_connections,
            f.outage
        );
    }
    println!("  wall time: {:.1}s", inputs.wall_time.as_secs_f64());
}

/// Parses the samples of a Prometheus text exposition (`name{label="value",...} number`).
fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let (series, value) = line.rsplit_once(' ')?;
    let value = value.parse().ok()?;
    let Some((name, rest)) = series.split_once('{') else {
        return Some(Sample {
            name: series.to_owned(),
            labels: BTreeMap::new(),
            value,
        });
    };
    let mut labels = BTreeMap::new();
    let mut rest = rest.strip_suffix('}')?;
    while !rest.is_empty() {
        let (label, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    escaped => value.push(escaped),
                },
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        labels.insert(label.trim_start_matches(',').to_owned(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}
