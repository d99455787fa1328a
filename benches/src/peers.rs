//! The same work composed from published crates, as a team without s3-ops would:
//!
//! - [`Composed`]: a `failsafe` breaker (5 consecutive failures, 60 s open) around a `backon`
//!   retry (3 attempts, 1 s doubling to 30 s, jitter, transient errors only), and the prometheus
//!   handles of the hand-written variant, resolved once.
//! - [`Autometrics`]: `#[autometrics]` on the body, metrics only (no breaker, no retry); its
//!   prometheus 0.14 backend (`prometheus-0_14` feature) looks its series up by label on every
//!   call and tracks the caller in a task-local.

use std::cell::Cell;
use std::time::{Duration, Instant};

use autometrics::autometrics;
use backon::{ExponentialBuilder, Retryable};
use failsafe::backoff::{self, Constant};
use failsafe::failure_policy::{self, ConsecutiveFailures};
use failsafe::futures::CircuitBreaker as _;
use failsafe::StateMachine;
use s3_ops_runtime::{BreakerVerdict, Classify, S3Error};

use crate::metrics::{Families, OpMetrics};
use crate::{body, HandError, BUCKET, OPERATION};

type Breaker = StateMachine<ConsecutiveFailures<Constant>, ()>;

/// `failsafe` + `backon` + prometheus.
pub struct Composed {
    breaker: Breaker,
    backoff: ExponentialBuilder,
    metrics: OpMetrics,
    families: Families,
}

impl Composed {
    /// The original recipe's thresholds and retry policy.
    pub fn new() -> Self {
        Self::with_delays(Duration::from_secs(1), Duration::from_secs(30))
    }

    /// With backoff delays of your own (tests use short ones).
    pub fn with_delays(min: Duration, max: Duration) -> Self {
        let families = Families::new();
        let breaker = failsafe::Config::new()
            .failure_policy(failure_policy::consecutive_failures(
                5,
                backoff::constant(Duration::from_secs(60)),
            ))
            .build();
        Self {
            breaker,
            backoff: ExponentialBuilder::default()
                .with_min_delay(min)
                .with_max_delay(max)
                .with_factor(2.0)
                // Retries after the first attempt: 3 attempts in all.
                .with_max_times(2)
                .with_jitter(),
            metrics: families.resolve(OPERATION, BUCKET),
            families,
        }
    }

    /// Opens the breaker: records the five consecutive failures that trip it.
    pub fn trip(&self) {
        for _ in 0..5 {
            self.breaker.on_error();
        }
    }

    /// `true` while the breaker refuses calls.
    pub fn is_open(&self) -> bool {
        !self.breaker.is_call_permitted()
    }

    /// The metric families (to read counts in tests).
    pub fn families(&self) -> &Families {
        &self.families
    }

    /// The body in a `backon` retry inside a `failsafe` call, with the four metrics.
    ///
    /// # Errors
    ///
    /// The body's last error, or [`HandError::CircuitOpen`].
    pub async fn put(&self, x: u64) -> Result<u64, HandError> {
        let start = Instant::now();
        let attempt = Cell::new(0);
        let attempts = || async {
            attempt.set(attempt.get() + 1);
            self.metrics.attempt(attempt.get());
            body(x)
        };
        let retried = attempts
            .retry(&self.backoff)
            .sleep(tokio::time::sleep)
            .when(|err: &S3Error| err.classify().is_retryable());
        // Only service failures count towards opening; a client error says S3 is up.
        let is_failure =
            |err: &S3Error| err.classify().breaker_outcome() == BreakerVerdict::Failure;
        match self.breaker.call_with(is_failure, retried).await {
            Ok(value) => {
                self.metrics.success.inc();
                self.metrics.duration.observe(start.elapsed().as_secs_f64());
                Ok(value)
            }
            Err(failsafe::Error::Rejected) => {
                self.metrics.circuit_open.inc();
                Err(HandError::CircuitOpen)
            }
            Err(failsafe::Error::Inner(err)) => {
                self.metrics.error.inc();
                self.metrics.duration.observe(start.elapsed().as_secs_f64());
                Err(err.into())
            }
        }
    }
}

impl Default for Composed {
    fn default() -> Self {
        Self::new()
    }
}

/// `#[autometrics]`, metrics only.
#[derive(Default)]
pub struct Autometrics;

impl Autometrics {
    /// The body under `#[autometrics]`.
    ///
    /// # Errors
    ///
    /// The body's.
    #[autometrics]
    pub async fn put(&self, x: u64) -> Result<u64, S3Error> {
        body(x)
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
    fn composed_counts_one_attempt_one_result_one_duration_per_call() {
        let svc = Composed::new();
        block_on(check_one_attempt_one_result_one_duration_per_call(
            |x| svc.put(x),
            svc.families(),
        ));
    }

    #[test]
    fn composed_retries_transient_errors_then_opens_after_five_failed_calls() {
        let svc = Composed::with_delays(Duration::from_millis(1), Duration::from_millis(2));
        block_on(check_retries_then_opens_after_five_failed_calls(
            |x| svc.put(x),
            svc.families(),
            || svc.is_open(),
        ));
    }

    #[test]
    fn autometrics_counts_calls_in_the_default_registry() {
        let calls = || {
            prometheus::gather()
                .iter()
                .filter(|family| family.name() == "function_calls_total")
                .flat_map(|family| family.get_metric())
                .filter(|m| {
                    let label = |name| m.get_label().iter().find(|l| l.name() == name);
                    label("function").is_some_and(|l| l.value() == "put")
                        && label("module").is_some_and(|l| l.value().ends_with("peers"))
                })
                .map(|m| m.get_counter().get_value())
                .sum::<f64>()
        };
        let before = calls();
        block_on(async { Autometrics.put(7).await.unwrap() });
        assert_eq!(calls(), before + 1.0);
    }
}
