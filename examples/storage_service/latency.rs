//! Call latencies measured around each service call (retries and backoff included), for the
//! percentiles of the summary.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Durations by service method.
#[derive(Debug, Default)]
pub(crate) struct Latencies {
    calls: Mutex<BTreeMap<&'static str, Vec<Duration>>>,
}

/// Percentiles of one method's calls.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Percentiles {
    pub(crate) count: usize,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) max: Duration,
}

impl Latencies {
    /// Runs `call` and records how long it took under `method`.
    pub(crate) async fn time<T>(&self, method: &'static str, call: impl Future<Output = T>) -> T {
        let start = Instant::now();
        let output = call.await;
        self.record(method, start.elapsed());
        output
    }

    fn record(&self, method: &'static str, took: Duration) {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(method)
            .or_default()
            .push(took);
    }

    /// Percentiles per method, in method order.
    pub(crate) fn percentiles(&self) -> Vec<(&'static str, Percentiles)> {
        let calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        calls
            .iter()
            .filter(|(_, took)| !took.is_empty())
            .map(|(method, took)| {
                let mut sorted = took.clone();
                sorted.sort_unstable();
                let stats = Percentiles {
                    count: sorted.len(),
                    p50: nearest_rank(&sorted, 50),
                    p99: nearest_rank(&sorted, 99),
                    max: sorted[sorted.len() - 1],
                };
                (*method, stats)
            })
            .collect()
    }
}

/// The nearest-rank percentile of a sorted, non-empty slice.
fn nearest_rank(sorted: &[Duration], percent: usize) -> Duration {
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// `812µs`, `3.4ms`, `1.52s`: short and comparable at a glance.
pub(crate) fn short(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 1000.0 {
        format!("{micros:.0}µs")
    } else if micros < 1e6 {
        format!("{:.1}ms", micros / 1e3)
    } else {
        format!("{:.2}s", micros / 1e6)
    }
}
