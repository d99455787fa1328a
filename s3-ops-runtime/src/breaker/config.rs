//! A breaker's thresholds.

use std::time::Duration;

use crate::retry::budget::DEFAULT_RETRY_BUDGET;

/// Thresholds of a [`CircuitBreaker`](crate::CircuitBreaker); `Default` gives the classic
/// values: 5 consecutive failures open it for 60 s, one probe at a time, 2 successes close it.
///
/// New fields may be added: build it with `..BreakerConfig::default()`.
///
/// ```
/// use std::time::Duration;
/// use s3_ops_runtime::{BreakerConfig, CircuitBreaker, FailureRate};
///
/// let circuit = CircuitBreaker::with_config(
///     "s3-upload",
///     BreakerConfig {
///         open_timeout: Duration::from_secs(30),
///         // Also open when half of the last 100 calls failed (once 20 are recorded).
///         failure_rate: Some(FailureRate { threshold_percent: 50, window_calls: 100, minimum_calls: 20 }),
///         ..BreakerConfig::default()
///     },
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open a closed circuit (default 5).
    pub failure_threshold: u32,
    /// Successful half-open probes that close the circuit (default 2).
    pub success_threshold: u32,
    /// How long an open circuit fails fast before it half-opens (default 60 s). Fixed when the
    /// circuit opens: failures of calls already in flight do not extend it.
    pub open_timeout: Duration,
    /// Probes allowed in flight at once while half-open (default 1).
    pub half_open_max_calls: u32,
    /// Tokens for retries shared by every call through this circuit (default `Some(500)`, the
    /// AWS SDKs' standard quota): a retry takes 5 (10 after an attempt timeout), a call that
    /// succeeds first time puts 1 back, one that succeeds after retries puts back what they
    /// took. An empty budget ends a failing call with its last error instead of retrying.
    /// `None`: unlimited.
    pub retry_budget: Option<u32>,
    /// Also open the circuit on a failure *rate* (default `None`: the consecutive rule alone).
    /// Either rule opens it.
    pub failure_rate: Option<FailureRate>,
}

/// The failure-rate rule: over the last `window_calls` outcomes a closed circuit recorded,
/// failures reach `threshold_percent` %, once at least `minimum_calls` are recorded.
///
/// It opens the circuit in a brown-out, where S3 fails a share of requests and the successes in
/// between keep resetting the consecutive count. Client errors (404, 403, …) count as the
/// successes they are for the breaker: S3 answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailureRate {
    /// The share of failures that opens the circuit, in percent (1 to 100).
    pub threshold_percent: u8,
    /// How many of the latest outcomes the rate is taken over (1 to 1 000 000).
    pub window_calls: u32,
    /// No rate is judged on fewer outcomes than this (1 to `window_calls`).
    pub minimum_calls: u32,
}

/// The largest failure-rate window: one bit per call, so 125 kB.
pub(crate) const MAX_WINDOW_CALLS: u32 = 1_000_000;

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            success_threshold: 2,
            open_timeout: Duration::from_secs(60),
            half_open_max_calls: 1,
            retry_budget: Some(DEFAULT_RETRY_BUDGET),
            failure_rate: None,
        }
    }
}

impl BreakerConfig {
    /// What is wrong with these thresholds, if anything.
    pub(crate) fn problem(&self) -> Option<String> {
        if self.failure_threshold == 0 {
            return Some("`failure_threshold` must be at least 1".into());
        }
        if self.success_threshold == 0 {
            return Some("`success_threshold` must be at least 1".into());
        }
        if self.half_open_max_calls == 0 {
            return Some(
                "`half_open_max_calls` must be at least 1, or the circuit never closes".into(),
            );
        }
        self.failure_rate.as_ref().and_then(FailureRate::problem)
    }
}

impl FailureRate {
    pub(crate) fn problem(&self) -> Option<String> {
        let FailureRate {
            threshold_percent,
            window_calls,
            minimum_calls,
        } = *self;
        if !(1..=100).contains(&threshold_percent) {
            return Some(format!(
                "`failure_rate.threshold_percent` must be 1 to 100, not {threshold_percent}"
            ));
        }
        if !(1..=MAX_WINDOW_CALLS).contains(&window_calls) {
            return Some(format!(
                "`failure_rate.window_calls` must be 1 to {MAX_WINDOW_CALLS}, not {window_calls}"
            ));
        }
        if !(1..=window_calls).contains(&minimum_calls) {
            return Some(format!(
                "`failure_rate.minimum_calls` must be 1 to `window_calls` ({window_calls}), not {minimum_calls}"
            ));
        }
        None
    }
}
