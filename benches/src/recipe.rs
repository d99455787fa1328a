//! A straightforward Rust port of the original Python recipe: the Python
//! `CircuitBreaker` as a `Mutex`-guarded state, `check_state()` then `is_open`, the retry helper,
//! `record_success()` / `record_failure()`, and the metrics looked up by label on every call
//! (`.labels(...)` in Python, `with_label_values` here).
//!
//! Kept faithful, including what the runtime does differently: every exception records a
//! failure (a 403 counts towards opening the circuit), and the duration is observed on success
//! only. Not handicapped: attempt labels come from a table rather than being formatted per call.

use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use prometheus::IntGauge;
use s3_ops_runtime::{Classify, S3Error};

use crate::metrics::{Families, ATTEMPT_LABELS};
use crate::{body, HandError, BUCKET, OPERATION};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Closed,
    Open,
    HalfOpen,
}

struct Inner {
    state: State,
    failures: u32,
    successes: u32,
    opened_at: Option<Instant>,
}

/// The original recipe's circuit breaker: every method takes the lock.
pub struct MutexBreaker {
    inner: Mutex<Inner>,
    failure_threshold: u32,
    success_threshold: u32,
    timeout: Duration,
    gauge: IntGauge,
}

impl MutexBreaker {
    /// The original recipe's thresholds: 5 failures open it for 60 s, 2 half-open successes close it.
    pub fn new(gauge: IntGauge) -> Self {
        Self::with_timeout(gauge, Duration::from_secs(60))
    }

    /// The original recipe's thresholds with an open timeout of your own (the wire benchmarks use short
    /// ones).
    pub fn with_timeout(gauge: IntGauge, timeout: Duration) -> Self {
        gauge.set(0);
        Self {
            inner: Mutex::new(Inner {
                state: State::Closed,
                failures: 0,
                successes: 0,
                opened_at: None,
            }),
            failure_threshold: 5,
            success_threshold: 2,
            timeout,
            gauge,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves an open circuit whose timeout has elapsed to half-open.
    pub fn check_state(&self) {
        let mut inner = self.lock();
        if inner.state == State::Open
            && inner
                .opened_at
                .is_some_and(|at| at.elapsed() >= self.timeout)
        {
            inner.state = State::HalfOpen;
            inner.successes = 0;
            self.gauge.set(1);
        }
    }

    /// `true` while the circuit is open.
    pub fn is_open(&self) -> bool {
        self.lock().state == State::Open
    }

    /// Records a successful call.
    pub fn record_success(&self) {
        let mut inner = self.lock();
        match inner.state {
            State::Closed => inner.failures = 0,
            State::HalfOpen => {
                inner.successes += 1;
                if inner.successes >= self.success_threshold {
                    inner.state = State::Closed;
                    inner.failures = 0;
                    self.gauge.set(0);
                }
            }
            State::Open => {}
        }
    }

    /// Records a failed call.
    pub fn record_failure(&self) {
        let mut inner = self.lock();
        inner.failures += 1;
        if inner.state == State::HalfOpen || inner.failures >= self.failure_threshold {
            inner.state = State::Open;
            inner.opened_at = Some(Instant::now());
            self.gauge.set(2);
        }
    }
}

/// The original recipe's `retry_with_backoff`: `max_attempts` attempts, `base_delay` doubling.
///
/// # Errors
///
/// The last attempt's error.
pub async fn retry_with_backoff<T, F, Fut>(
    families: &Families,
    mut attempt: F,
    max_attempts: u32,
    base_delay: Duration,
) -> Result<T, S3Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, S3Error>>,
{
    let mut n = 0;
    loop {
        n += 1;
        families
            .attempts
            .with_label_values(&[OPERATION, ATTEMPT_LABELS[(n - 1) as usize]])
            .inc();
        match attempt().await {
            Err(err) if n < max_attempts && err.classify().is_retryable() => {
                tokio::time::sleep(base_delay * 2u32.pow(n - 1)).await;
            }
            result => return result,
        }
    }
}

/// The service, ported from the original recipe.
pub struct RecipePort {
    bucket: String,
    upload_circuit: MutexBreaker,
    families: Families,
    base_delay: Duration,
}

impl RecipePort {
    /// The original recipe's 3 attempts from 1 s.
    pub fn new() -> Self {
        Self::with_base_delay(Duration::from_secs(1))
    }

    /// With a first backoff of your own (tests use short delays).
    pub fn with_base_delay(base_delay: Duration) -> Self {
        let families = Families::new();
        Self {
            bucket: BUCKET.to_owned(),
            upload_circuit: MutexBreaker::new(families.breaker_gauge("s3-upload")),
            families,
            base_delay,
        }
    }

    /// The breaker.
    pub fn circuit(&self) -> &MutexBreaker {
        &self.upload_circuit
    }

    /// The metric families (to read counts in tests).
    pub fn families(&self) -> &Families {
        &self.families
    }

    /// The recipe's steps 2 to 4 around the body.
    ///
    /// # Errors
    ///
    /// The body's last error, or [`HandError::CircuitOpen`].
    pub async fn put(&self, x: u64) -> Result<u64, HandError> {
        let ops = &self.families.operations;
        self.upload_circuit.check_state();
        if self.upload_circuit.is_open() {
            ops.with_label_values(&[OPERATION, &self.bucket, "circuit_open"])
                .inc();
            return Err(HandError::CircuitOpen);
        }
        let start = Instant::now();
        match retry_with_backoff(&self.families, || async { body(x) }, 3, self.base_delay).await {
            Ok(value) => {
                self.upload_circuit.record_success();
                ops.with_label_values(&[OPERATION, &self.bucket, "success"])
                    .inc();
                self.families
                    .duration
                    .with_label_values(&[OPERATION, &self.bucket])
                    .observe(start.elapsed().as_secs_f64());
                Ok(value)
            }
            Err(err) => {
                self.upload_circuit.record_failure();
                ops.with_label_values(&[OPERATION, &self.bucket, "error"])
                    .inc();
                Err(err.into())
            }
        }
    }
}

impl Default for RecipePort {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        block_on, check_one_attempt_one_result_one_duration_per_call,
        check_retries_then_opens_after_five_failed_calls,
    };

    #[test]
    fn counts_one_attempt_one_result_one_duration_per_call() {
        let svc = RecipePort::new();
        block_on(check_one_attempt_one_result_one_duration_per_call(
            |x| svc.put(x),
            svc.families(),
        ));
    }

    #[test]
    fn retries_transient_errors_then_opens_after_five_failed_calls() {
        let svc = RecipePort::with_base_delay(Duration::from_millis(1));
        block_on(check_retries_then_opens_after_five_failed_calls(
            |x| svc.put(x),
            svc.families(),
            || svc.circuit().is_open(),
        ));
    }
}
