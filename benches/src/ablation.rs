//! Pieces of the wrapper measured apart, to show what each design choice of the runtime buys:
//!
//! - the breaker's closed path: the runtime's (one load to admit, one load to record a success,
//!   no store), the same with an unconditional store on success, and the original recipe's `Mutex`;
//! - the metrics: the runtime's per-thread cells (through a cleanup method: no breaker), the
//!   prometheus crate's shared atomics through handles resolved once, and the same looked up by
//!   label on every call. Each records what one call records: an attempt, a result and a
//!   duration between two clock reads.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};

use crate::metrics::{Families, OpMetrics, ATTEMPT_LABELS};
use crate::recipe::MutexBreaker;
use crate::{body, BUCKET, OPERATION};

/// The runtime's breaker through its public API: `acquire()` then `Permit::success()`.
///
/// # Panics
///
/// When the circuit is not closed.
#[inline]
pub fn runtime_breaker(circuit: &CircuitBreaker) {
    circuit
        .acquire()
        .expect("the benchmark's circuit stays closed")
        .success();
}

/// A closed-path breaker that admits with one load and forgets failures with a store on every
/// success: the design the runtime avoids.
#[derive(Default)]
pub struct StoringBreaker {
    open: AtomicU32,
    failures: AtomicU32,
}

impl StoringBreaker {
    /// Admission and a success.
    ///
    /// # Panics
    ///
    /// Never: the circuit is never opened.
    #[inline]
    pub fn call(&self) {
        assert_eq!(self.open.load(Ordering::Acquire), 0, "stays closed");
        self.failures.store(0, Ordering::Release);
    }

    /// Consecutive failures (always 0: nothing records one).
    pub fn failures(&self) -> u32 {
        self.failures.load(Ordering::Relaxed)
    }
}

/// The original recipe's breaker: `check_state`, `is_open`, `record_success`, each under the lock.
///
/// # Panics
///
/// When the circuit is open.
#[inline]
pub fn mutex_breaker(breaker: &MutexBreaker) {
    breaker.check_state();
    assert!(!breaker.is_open(), "stays closed");
    breaker.record_success();
}

/// The runtime's metrics without a breaker: a cleanup method, whose wrapper counts the attempt,
/// reads the clock twice and records the result and duration in per-thread cells.
pub struct RuntimeMetrics {
    bucket: String,
}

impl RuntimeMetrics {
    /// A cleanup service on [`BUCKET`].
    pub fn new() -> Self {
        Self {
            bucket: BUCKET.to_owned(),
        }
    }

    /// The body under a cleanup attribute (no breaker, one attempt).
    ///
    /// # Errors
    ///
    /// The body's.
    #[s3_operation(class = "cleanup", op = "delete_object", bucket = self.bucket)]
    pub async fn delete(&self, x: u64) -> Result<u64, S3Error> {
        body(x)
    }
}

impl Default for RuntimeMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// One call's metrics on prometheus handles resolved once.
///
/// # Errors
///
/// The body's.
#[inline]
pub fn prometheus_resolved(metrics: &OpMetrics, x: u64) -> Result<u64, S3Error> {
    let start = Instant::now();
    metrics.attempt(1);
    let result = body(x);
    metrics.success.inc();
    metrics.duration.observe(start.elapsed().as_secs_f64());
    result
}

/// One call's metrics looked up by label on every call.
///
/// # Errors
///
/// The body's.
#[inline]
pub fn prometheus_by_label(families: &Families, bucket: &str, x: u64) -> Result<u64, S3Error> {
    let start = Instant::now();
    families
        .attempts
        .with_label_values(&[OPERATION, ATTEMPT_LABELS[0]])
        .inc();
    let result = body(x);
    families
        .operations
        .with_label_values(&[OPERATION, bucket, "success"])
        .inc();
    families
        .duration
        .with_label_values(&[OPERATION, bucket])
        .observe(start.elapsed().as_secs_f64());
    result
}

#[cfg(test)]
mod tests {
    use s3_ops_runtime::metrics::{self, OperationResult};

    use super::*;
    use crate::testing::{block_on, Counts};

    #[test]
    fn each_piece_records_what_one_call_records() {
        let circuit = CircuitBreaker::new("ablation");
        runtime_breaker(&circuit);
        assert_eq!(circuit.state(), s3_ops_runtime::CircuitState::Closed);

        let storing = StoringBreaker::default();
        storing.call();
        assert_eq!(storing.failures(), 0);

        let before = metrics::operations_total("delete_object", BUCKET, OperationResult::Success);
        let attempts = metrics::retry_attempts_total("delete_object", 1);
        assert_eq!(block_on(RuntimeMetrics::new().delete(3)).unwrap(), 3);
        assert_eq!(
            metrics::operations_total("delete_object", BUCKET, OperationResult::Success),
            before + 1
        );
        assert_eq!(
            metrics::retry_attempts_total("delete_object", 1),
            attempts + 1
        );

        let families = Families::new();
        let resolved = families.resolve(OPERATION, BUCKET);
        assert_eq!(prometheus_resolved(&resolved, 4).unwrap(), 4);
        assert_eq!(prometheus_by_label(&families, BUCKET, 5).unwrap(), 5);
        assert_eq!(
            Counts::read(&families),
            Counts {
                success: 2,
                attempts: [2, 0, 0],
                observed: 2,
                ..Counts::default()
            }
        );
    }
}
