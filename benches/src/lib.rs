//! The services the benchmarks call: one S3-style operation (`put_object` on bucket `results`)
//! wrapped six ways, so that each benchmark measures the wrapper and nothing else.
//!
//! | module | variant |
//! |---|---|
//! | [`annotated`] | the body alone, and the same body under `#[s3_operation]` |
//! | [`hand`] | the hand-written optimum: an atomic breaker and prometheus handles resolved once |
//! | [`recipe`] | a straightforward port of the original recipe: a `Mutex` breaker, `with_label_values` per call |
//! | [`peers`] | `failsafe` + `backon` + the same prometheus handles; `autometrics` |
//!
//! [`ablation`] measures the runtime's breaker and metrics apart, against the designs it
//! avoids; `e2e` (feature `e2e`) is the end-to-end pair against the embedded S3 server.
//!
//! Every variant runs the same [`body`] in the same place (once per attempt, inside its retry
//! loop), takes a `u64` and returns it. [`harness`] holds the measurement loops, identical for
//! every variant. The unit tests check that the variants do the same work: each counts one
//! attempt and one result, observes one duration, fails fast once its breaker is open, and
//! does not retry a client error.
//!
//! The harnesses that measure them are the crate's benchmarks (`benches/`: criterion, and the
//! end-to-end and amplification runs on the wire) and examples (`examples/`: the loops
//! `benches/instructions.sh` counts under callgrind).

pub mod ablation;
pub mod annotated;
#[cfg(feature = "e2e")]
pub mod e2e;
pub mod hand;
pub mod harness;
pub mod metrics;
pub mod peers;
pub mod recipe;

use s3_ops_runtime::{Classify, ErrorClass, S3Error};

/// The `operation` label of every variant.
pub const OPERATION: &str = "put_object";

/// The `bucket` label of every variant.
pub const BUCKET: &str = "results";

/// The argument that makes [`body`] fail with a transient error (`SlowDown`, 503).
pub const FAIL_TRANSIENT: u64 = u64::MAX;

/// The argument that makes [`body`] fail with a client error (`AccessDenied`, 403).
pub const FAIL_CLIENT: u64 = u64::MAX - 1;

/// The operation every variant wraps: returns its argument at once, or fails on the two
/// reserved arguments so the error paths can be tested. The branch is the same in every
/// variant, so it cancels out of the comparisons.
#[inline]
pub fn body(x: u64) -> Result<u64, S3Error> {
    match x {
        FAIL_TRANSIENT => Err(S3Error::service("SlowDown", Some(503))),
        FAIL_CLIENT => Err(S3Error::service("AccessDenied", Some(403))),
        x => Ok(x),
    }
}

/// The error of the hand-composed variants, which cannot build the runtime's `CircuitOpen`
/// (its constructor is private to the runtime).
#[derive(Debug)]
pub enum HandError {
    /// The breaker refused the call; no attempt was made.
    CircuitOpen,
    /// The body failed.
    S3(S3Error),
}

impl HandError {
    /// `true` for a breaker refusal.
    pub fn is_circuit_open(&self) -> bool {
        matches!(self, HandError::CircuitOpen)
    }
}

impl From<S3Error> for HandError {
    fn from(err: S3Error) -> Self {
        HandError::S3(err)
    }
}

impl Classify for HandError {
    fn classify(&self) -> ErrorClass {
        match self {
            HandError::CircuitOpen => ErrorClass::CircuitOpen,
            HandError::S3(err) => err.classify(),
        }
    }
}

/// Helpers shared by the unit tests.
#[cfg(test)]
mod testing {
    use std::future::Future;
    use std::time::Duration;

    use s3_ops_runtime::retry::{Jitter, RetryPolicy};

    use s3_ops_runtime::{Classify, ErrorClass};

    use crate::metrics::{Families, ATTEMPT_LABELS};
    use crate::{HandError, BUCKET, FAIL_CLIENT, FAIL_TRANSIENT, OPERATION};

    pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime")
            .block_on(future)
    }

    /// The default policy with millisecond delays, so retry tests take no time to speak of.
    pub(crate) fn fast_policy() -> RetryPolicy {
        RetryPolicy {
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            jitter: Jitter::None,
            ..RetryPolicy::DEFAULT
        }
    }

    /// A hand-composed variant's work per call, the same for every variant: one attempt, one
    /// result and one observed duration; a client error is not retried.
    pub(crate) async fn check_one_attempt_one_result_one_duration_per_call<F>(
        put: impl Fn(u64) -> F,
        families: &Families,
    ) where
        F: Future<Output = Result<u64, HandError>>,
    {
        assert_eq!(put(7).await.unwrap(), 7);
        assert_eq!(
            Counts::read(families),
            Counts {
                success: 1,
                attempts: [1, 0, 0],
                observed: 1,
                ..Counts::default()
            }
        );
        assert_eq!(
            put(FAIL_CLIENT).await.unwrap_err().classify(),
            ErrorClass::Client
        );
        let counts = Counts::read(families);
        assert_eq!(
            (counts.error, counts.attempts),
            (1, [2, 0, 0]),
            "a client error is not retried"
        );
    }

    /// A hand-composed variant with millisecond delays retries a transient error up to three
    /// attempts, opens after five failed calls, then fails fast without an attempt.
    pub(crate) async fn check_retries_then_opens_after_five_failed_calls<F>(
        put: impl Fn(u64) -> F,
        families: &Families,
        is_open: impl Fn() -> bool,
    ) where
        F: Future<Output = Result<u64, HandError>>,
    {
        for _ in 0..5 {
            assert!(!put(FAIL_TRANSIENT).await.unwrap_err().is_circuit_open());
        }
        let counts = Counts::read(families);
        assert_eq!((counts.error, counts.attempts), (5, [5, 5, 5]));
        assert!(is_open());
        assert!(put(7).await.unwrap_err().is_circuit_open());
        let counts = Counts::read(families);
        assert_eq!((counts.circuit_open, counts.attempts), (1, [5, 5, 5]));
    }

    /// What a hand-composed variant has recorded in its registry.
    #[derive(Debug, Default, PartialEq, Eq)]
    pub(crate) struct Counts {
        pub(crate) success: u64,
        pub(crate) error: u64,
        pub(crate) circuit_open: u64,
        pub(crate) attempts: [u64; 3],
        pub(crate) observed: u64,
    }

    impl Counts {
        pub(crate) fn read(families: &Families) -> Self {
            let total = |result| {
                families
                    .operations
                    .with_label_values(&[OPERATION, BUCKET, result])
                    .get()
            };
            Self {
                success: total("success"),
                error: total("error"),
                circuit_open: total("circuit_open"),
                attempts: ATTEMPT_LABELS
                    .map(|n| families.attempts.with_label_values(&[OPERATION, n]).get()),
                observed: families
                    .duration
                    .with_label_values(&[OPERATION, BUCKET])
                    .get_sample_count(),
            }
        }
    }
}
