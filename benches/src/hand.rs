//! The hand-written optimum: what a careful engineer writes around one call without a
//! framework. A minimal lock-free breaker (closed path: one load; success: one more load and
//! no store), prometheus handles resolved at construction, two clock reads, and the same retry
//! loop and classification as the runtime.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use prometheus::{IntCounter, IntGauge};
use s3_ops_runtime::retry::RetryPolicy;
use s3_ops_runtime::{BreakerVerdict, Classify, S3Error};

use crate::metrics::{Families, OpMetrics};
use crate::{body, HandError, BUCKET, OPERATION};

/// A minimal circuit breaker on atomics: `failure_threshold` consecutive failures open it for
/// `open_timeout`; then one probe at a time is let through, and its success closes it.
///
/// Simpler than the runtime's (no epochs, one probe success closes, a cancelled probe keeps
/// its slot): only its closed path is measured, and that path does what the runtime's does.
pub struct AtomicBreaker {
    base: Instant,
    failure_threshold: u32,
    open_timeout: Duration,
    failures: AtomicU32,
    /// 0 while closed, else the end of the open period in nanoseconds since `base` (at least 1).
    open_until: AtomicU64,
    probing: AtomicBool,
    gauge: IntGauge,
}

/// The breaker refused a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused;

/// How a call was admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Closed circuit.
    Closed,
    /// The half-open probe.
    Probe,
}

impl AtomicBreaker {
    /// The original recipe's thresholds: 5 failures, 60 s open. `gauge` is its `s3_circuit_breaker_state`.
    pub fn new(gauge: IntGauge) -> Self {
        gauge.set(0);
        Self {
            base: Instant::now(),
            failure_threshold: 5,
            open_timeout: Duration::from_secs(60),
            failures: AtomicU32::new(0),
            open_until: AtomicU64::new(0),
            probing: AtomicBool::new(false),
            gauge,
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Asks to make a call.
    ///
    /// # Errors
    ///
    /// While open, or half-open with the probe in flight.
    #[inline]
    pub fn admit(&self) -> Result<Admission, Refused> {
        let until = self.open_until.load(Ordering::Acquire);
        if until == 0 {
            return Ok(Admission::Closed);
        }
        self.admit_open(until)
    }

    #[cold]
    #[inline(never)]
    fn admit_open(&self, until: u64) -> Result<Admission, Refused> {
        if self.now() < until {
            return Err(Refused);
        }
        match self
            .probing
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => {
                self.gauge.set(1);
                Ok(Admission::Probe)
            }
            Err(_) => Err(Refused),
        }
    }

    /// The call succeeded (or S3 answered with a client error: it is up).
    #[inline]
    pub fn success(&self, admission: Admission) {
        match admission {
            // The hot path: a load, and no store unless there are failures to forget.
            Admission::Closed => {
                if self.failures.load(Ordering::Relaxed) != 0 {
                    self.failures.store(0, Ordering::Relaxed);
                }
            }
            Admission::Probe => self.close(),
        }
    }

    /// The call failed in a way that says S3 is unwell.
    #[cold]
    pub fn failure(&self, admission: Admission) {
        match admission {
            Admission::Closed => {
                let failures = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
                if failures >= self.failure_threshold {
                    self.open();
                }
            }
            Admission::Probe => {
                self.open();
                self.probing.store(false, Ordering::Release);
            }
        }
    }

    /// No verdict: frees the probe slot.
    #[cold]
    pub fn release(&self, admission: Admission) {
        if admission == Admission::Probe {
            self.probing.store(false, Ordering::Release);
        }
    }

    /// Opens the circuit now, for the open timeout.
    pub fn open(&self) {
        let timeout = u64::try_from(self.open_timeout.as_nanos()).unwrap_or(u64::MAX);
        let until = self.now().saturating_add(timeout).max(1);
        self.failures.store(0, Ordering::Relaxed);
        self.open_until.store(until, Ordering::Release);
        self.gauge.set(2);
    }

    fn close(&self) {
        self.failures.store(0, Ordering::Relaxed);
        self.open_until.store(0, Ordering::Release);
        self.probing.store(false, Ordering::Release);
        self.gauge.set(0);
    }

    /// `true` while calls fail fast (open and not yet half-open).
    pub fn is_open(&self) -> bool {
        let until = self.open_until.load(Ordering::Acquire);
        until != 0 && self.now() < until
    }
}

/// The service, written by hand.
pub struct Hand {
    breaker: AtomicBreaker,
    metrics: OpMetrics,
    policy: RetryPolicy,
    families: Families,
}

impl Hand {
    /// The original recipe's retry policy, metrics in a registry of its own.
    pub fn new() -> Self {
        Self::with_policy(RetryPolicy::DEFAULT)
    }

    /// With a retry policy of your own (tests use short delays).
    pub fn with_policy(policy: RetryPolicy) -> Self {
        let families = Families::new();
        Self {
            breaker: AtomicBreaker::new(families.breaker_gauge("s3-upload")),
            metrics: families.resolve(OPERATION, BUCKET),
            policy,
            families,
        }
    }

    /// The breaker.
    pub fn breaker(&self) -> &AtomicBreaker {
        &self.breaker
    }

    /// The metric families (to read counts in tests).
    pub fn families(&self) -> &Families {
        &self.families
    }

    /// The body behind the breaker, in the retry loop, with the four metrics.
    ///
    /// # Errors
    ///
    /// The body's last error, or [`HandError::CircuitOpen`].
    pub async fn put(&self, x: u64) -> Result<u64, HandError> {
        let Ok(admission) = self.breaker.admit() else {
            self.metrics.circuit_open.inc();
            return Err(HandError::CircuitOpen);
        };
        let start = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.metrics.attempt(attempt);
            let result = async { body(x) }.await;
            match result {
                Ok(value) => {
                    self.finish(&self.metrics.success, start);
                    self.breaker.success(admission);
                    return Ok(value);
                }
                Err(err) => match self.on_error(&err, attempt, admission, start) {
                    Some(delay) => tokio::time::sleep(delay).await,
                    None => return Err(err.into()),
                },
            }
        }
    }

    #[inline]
    fn finish(&self, result: &IntCounter, start: Instant) {
        result.inc();
        self.metrics.duration.observe(start.elapsed().as_secs_f64());
    }

    /// The delay before the next attempt, or `None` when the call is over (then settled).
    #[cold]
    #[inline(never)]
    fn on_error(
        &self,
        err: &S3Error,
        attempt: u32,
        admission: Admission,
        start: Instant,
    ) -> Option<Duration> {
        let class = err.classify();
        if class.is_retryable() && attempt < self.policy.max_attempts {
            return Some(self.policy.delay(attempt, err.retry_after()));
        }
        self.finish(&self.metrics.error, start);
        match class.breaker_outcome() {
            BreakerVerdict::Success => self.breaker.success(admission),
            BreakerVerdict::Failure => self.breaker.failure(admission),
            BreakerVerdict::Nothing => self.breaker.release(admission),
        }
        None
    }
}

impl Default for Hand {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        block_on, check_one_attempt_one_result_one_duration_per_call,
        check_retries_then_opens_after_five_failed_calls, fast_policy,
    };

    #[test]
    fn counts_one_attempt_one_result_one_duration_per_call() {
        let svc = Hand::new();
        block_on(check_one_attempt_one_result_one_duration_per_call(
            |x| svc.put(x),
            svc.families(),
        ));
    }

    #[test]
    fn retries_transient_errors_then_opens_after_five_failed_calls() {
        let svc = Hand::with_policy(fast_policy());
        block_on(check_retries_then_opens_after_five_failed_calls(
            |x| svc.put(x),
            svc.families(),
            || svc.breaker().is_open(),
        ));
    }
}
