//! The body alone (the cost floor of calling an `async fn`) and the same body under the
//! attribute, exactly as the design's example writes it.

use s3_ops_runtime::{
    s3_operation, BreakerConfig, CircuitBreaker, FailureRate, RetryPolicy, S3Error,
};

use crate::{body, BUCKET};

/// A service with one upload operation, in both forms.
pub struct Annotated {
    bucket: String,
    upload_circuit: CircuitBreaker,
    // The attribute's default circuit for downloads; unused here, kept so the struct is the
    // design's shape.
    #[allow(dead_code)]
    download_circuit: CircuitBreaker,
    /// The policy of [`put_policy`](Self::put_policy): the default, given at run time.
    retry: RetryPolicy,
}

impl Annotated {
    /// A service whose upload circuit has the original recipe's thresholds.
    pub fn new() -> Self {
        Self::with_circuit(CircuitBreaker::new("s3-upload"))
    }

    /// A service guarded by `upload_circuit` (force it open, share it between services …).
    pub fn with_circuit(upload_circuit: CircuitBreaker) -> Self {
        Self {
            bucket: BUCKET.to_owned(),
            upload_circuit,
            download_circuit: CircuitBreaker::new("s3-download"),
            retry: RetryPolicy::DEFAULT,
        }
    }

    /// A service whose circuit also opens on a failure rate (half of the last 100 calls, once
    /// 20 are recorded): what the window costs a successful call.
    pub fn with_failure_rate() -> Self {
        Self::with_circuit(CircuitBreaker::with_config(
            "s3-upload-failure-rate",
            BreakerConfig {
                failure_rate: Some(FailureRate {
                    threshold_percent: 50,
                    window_calls: 100,
                    minimum_calls: 20,
                }),
                ..BreakerConfig::default()
            },
        ))
    }

    /// A service whose circuit stays half-open: it half-opens at once after
    /// [`CircuitBreaker::force_open`] and never collects enough probe successes to close, so
    /// every call is a half-open probe.
    pub fn half_open() -> Self {
        let circuit = CircuitBreaker::with_config(
            "s3-upload-half-open",
            BreakerConfig {
                open_timeout: std::time::Duration::ZERO,
                success_threshold: u32::MAX,
                ..BreakerConfig::default()
            },
        );
        circuit.force_open();
        Self::with_circuit(circuit)
    }

    /// The upload circuit.
    pub fn circuit(&self) -> &CircuitBreaker {
        &self.upload_circuit
    }

    /// The body with no wrapper: the floor every variant is measured against.
    ///
    /// # Errors
    ///
    /// The body's.
    pub async fn bare(&self, x: u64) -> Result<u64, S3Error> {
        body(x)
    }

    /// The body under `#[s3_operation]`: breaker, retry loop, the four metrics.
    ///
    /// # Errors
    ///
    /// The body's, or the circuit's refusal.
    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket)]
    pub async fn put(&self, x: u64) -> Result<u64, S3Error> {
        body(x)
    }
}

impl Annotated {
    /// [`put`](Self::put) with its retry policy given at run time (`retry = self.retry`) rather
    /// than by the attribute's literals: what reading it from the environment costs per call.
    ///
    /// # Errors
    ///
    /// The body's, or the circuit's refusal.
    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket, retry = self.retry)]
    pub async fn put_policy(&self, x: u64) -> Result<u64, S3Error> {
        body(x)
    }
}

impl Default for Annotated {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use s3_ops_runtime::metrics::{self, OperationResult};
    use s3_ops_runtime::CircuitState;

    use super::*;
    use crate::{FAIL_CLIENT, OPERATION};

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// The metric store is global and both tests call the same site: they compare deltas, one
    /// at a time.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn put_counts_like_the_other_variants_and_fails_fast_when_open() {
        let _serial = SERIAL
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let total = |r| metrics::operations_total(OPERATION, BUCKET, r);
        let attempts = || metrics::retry_attempts_total(OPERATION, 1);
        let observed = || metrics::operation_duration(OPERATION, BUCKET).map_or(0, |d| d.count);
        let svc = Annotated::new();
        block_on(async {
            let (ok, a1, obs) = (total(OperationResult::Success), attempts(), observed());
            assert_eq!(svc.bare(7).await.unwrap(), 7);
            assert_eq!(total(OperationResult::Success), ok, "bare counts nothing");

            assert_eq!(svc.put(7).await.unwrap(), 7);
            assert_eq!(total(OperationResult::Success), ok + 1);
            assert_eq!(attempts(), a1 + 1);
            assert_eq!(observed(), obs + 1);
            assert_eq!(svc.put_policy(7).await.unwrap(), 7);
            assert_eq!(
                total(OperationResult::Success),
                ok + 2,
                "the run-time policy's site"
            );
            let a1 = a1 + 1;
            let obs = obs + 1;
            assert_eq!((attempts(), observed()), (a1 + 1, obs + 1));

            let err = total(OperationResult::Error);
            assert_eq!(svc.put(FAIL_CLIENT).await.unwrap_err().status(), Some(403));
            assert_eq!(total(OperationResult::Error), err + 1);
            assert_eq!(attempts(), a1 + 2, "a client error is not retried");

            svc.circuit().force_open();
            let open = total(OperationResult::CircuitOpen);
            assert!(svc.put(7).await.unwrap_err().is_circuit_open());
            assert_eq!(total(OperationResult::CircuitOpen), open + 1);
            assert_eq!(attempts(), a1 + 2, "no attempt while open");
        });
    }

    #[test]
    fn half_open_service_stays_half_open_and_admits_every_probe() {
        let _serial = SERIAL
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let svc = Annotated::half_open();
        block_on(async {
            for x in 0..10 {
                assert_eq!(svc.put(x).await.unwrap(), x);
                assert_eq!(svc.circuit().state(), CircuitState::HalfOpen);
            }
            // A probe held by someone else takes the only slot: the next call is refused.
            let held = svc.circuit().acquire().unwrap();
            assert!(held.is_probe());
            assert!(svc.put(1).await.unwrap_err().is_circuit_open());
            drop(held);
            assert_eq!(svc.put(1).await.unwrap(), 1);
        });
    }
}
