//! The original recipe's metrics with the `prometheus` crate, as the hand-composed variants keep them: the
//! same names, labels and histogram buckets as the runtime's, in a registry of their own (the
//! runtime's collector owns these names on the default registry).

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};
use s3_ops_runtime::metrics::{
    CIRCUIT_BREAKER_STATE, DURATION_BUCKETS, OPERATIONS_TOTAL, OPERATION_DURATION_SECONDS,
    RETRY_ATTEMPTS_TOTAL,
};

/// Attempt labels `"1"`, `"2"`, `"3"`: a port that formatted the number on every call would
/// allocate; this one does not, so the recipe-style port is not handicapped by it.
pub const ATTEMPT_LABELS: [&str; 3] = ["1", "2", "3"];

/// The four metric families in their own registry.
pub struct Families {
    /// The registry they are registered on.
    pub registry: Registry,
    /// `s3_operations_total{operation, bucket, result}`.
    pub operations: IntCounterVec,
    /// `s3_operation_duration_seconds{operation, bucket}`.
    pub duration: HistogramVec,
    /// `s3_retry_attempts_total{operation, attempt}`.
    pub attempts: IntCounterVec,
    /// `s3_circuit_breaker_state{circuit_name}`, set on transitions.
    pub breaker_state: prometheus::IntGaugeVec,
}

impl Families {
    /// Fresh families in a fresh registry.
    ///
    /// # Panics
    ///
    /// Never in practice: the names are valid and the registry is new.
    pub fn new() -> Self {
        let registry = Registry::new();
        let operations = IntCounterVec::new(
            Opts::new(OPERATIONS_TOTAL, "S3 operations by result"),
            &["operation", "bucket", "result"],
        )
        .expect("valid metric");
        let duration = HistogramVec::new(
            HistogramOpts::new(OPERATION_DURATION_SECONDS, "S3 operation duration")
                .buckets(DURATION_BUCKETS.to_vec()),
            &["operation", "bucket"],
        )
        .expect("valid metric");
        let attempts = IntCounterVec::new(
            Opts::new(RETRY_ATTEMPTS_TOTAL, "S3 attempts by attempt number"),
            &["operation", "attempt"],
        )
        .expect("valid metric");
        let breaker_state = prometheus::IntGaugeVec::new(
            Opts::new(CIRCUIT_BREAKER_STATE, "circuit state"),
            &["circuit_name"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(operations.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(duration.clone()),
            Box::new(attempts.clone()),
            Box::new(breaker_state.clone()),
        ] {
            registry.register(collector).expect("fresh registry");
        }
        Self {
            registry,
            operations,
            duration,
            attempts,
            breaker_state,
        }
    }

    /// The series of one `(operation, bucket)`, resolved now so calls never look labels up.
    pub fn resolve(&self, operation: &str, bucket: &str) -> OpMetrics {
        OpMetrics {
            success: self
                .operations
                .with_label_values(&[operation, bucket, "success"]),
            error: self
                .operations
                .with_label_values(&[operation, bucket, "error"]),
            circuit_open: self
                .operations
                .with_label_values(&[operation, bucket, "circuit_open"]),
            duration: self.duration.with_label_values(&[operation, bucket]),
            attempts: ATTEMPT_LABELS.map(|n| self.attempts.with_label_values(&[operation, n])),
        }
    }

    /// The state gauge of the circuit `name`.
    pub fn breaker_gauge(&self, name: &str) -> IntGauge {
        self.breaker_state.with_label_values(&[name])
    }
}

impl Default for Families {
    fn default() -> Self {
        Self::new()
    }
}

/// The handles of one `(operation, bucket)` series.
pub struct OpMetrics {
    /// `result="success"`.
    pub success: IntCounter,
    /// `result="error"`.
    pub error: IntCounter,
    /// `result="circuit_open"`.
    pub circuit_open: IntCounter,
    /// The duration histogram.
    pub duration: Histogram,
    /// `attempt="1"`, `"2"`, `"3"`.
    pub attempts: [IntCounter; 3],
}

impl OpMetrics {
    /// Counts attempt `n` (1-based); attempts past the table are not counted, as in the runtime.
    #[inline]
    pub fn attempt(&self, n: u32) {
        if let Some(counter) = self.attempts.get((n as usize).wrapping_sub(1)) {
            counter.inc();
        }
    }
}
