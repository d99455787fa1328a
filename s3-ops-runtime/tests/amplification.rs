//! Retries that never amplify an outage, on tokio's paused clock: the retry budget, the circuit
//! re-checked before and after each backoff, the whole-call deadline, the cap on attempts, and
//! `s3_retries_skipped_total` for every retry not made.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use s3_ops_runtime::metrics::{self, SkippedRetry};
use s3_ops_runtime::retry::budget::{RETRY_COST, TIMEOUT_RETRY_COST};
use s3_ops_runtime::retry::{RetryPolicy, MAX_ATTEMPTS};
use s3_ops_runtime::{
    AttemptTimeout, BreakerConfig, CircuitBreaker, CircuitState, Operation, OperationClass,
    S3Error, S3ErrorKind,
};
use support::{exact_policy, secs};
use tokio::time::Instant;

const UPLOAD: OperationClass = OperationClass::Upload;

fn slow_down() -> S3Error {
    S3Error::service("SlowDown", Some(503))
}

/// Counts the attempts of every call run through it.
#[derive(Default)]
struct Attempts(AtomicU32);

impl Attempts {
    fn count(&self) -> u32 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn total(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }

    /// One attempt, counted, that fails with `SlowDown`.
    async fn fail(&self) -> Result<(), S3Error> {
        self.count();
        Err(slow_down())
    }
}

fn breaker(name: &'static str, retry_budget: Option<u32>) -> CircuitBreaker {
    CircuitBreaker::with_config(
        name,
        BreakerConfig {
            retry_budget,
            // These tests are about retries: the circuit opens only when a test says so.
            failure_threshold: 1_000,
            ..BreakerConfig::default()
        },
    )
}

/// `s3_retries_skipped_total` for `op` as Prometheus scrapes it: the `reason` label is the
/// documented value (`budget`, `circuit_open`, `deadline`), the count `n`.
fn assert_exported_skips(op: &str, reason: &str, n: u64) {
    let line = format!("s3_retries_skipped_total{{operation=\"{op}\",reason=\"{reason}\"}} {n}");
    let rendered = metrics::render();
    assert!(
        rendered.lines().any(|l| l == line),
        "`{line}` not in the exposition:\n{rendered}"
    );
}

// ---- the budget ----

#[tokio::test(start_paused = true)]
async fn an_empty_budget_ends_a_failing_call_with_its_last_error() {
    const OP: &str = "budget_runs_out";
    let op = Operation::with_policy(UPLOAD, OP, exact_policy(3));
    // Two retries' worth.
    let circuit = breaker("budget-runs-out", Some(2 * RETRY_COST));
    let attempts = Attempts::default();

    let err = op.run(&circuit, "b", || attempts.fail()).await.unwrap_err();
    assert_eq!(err.code(), Some("SlowDown"));
    assert_eq!(
        attempts.total(),
        3,
        "the first call's two retries are paid for"
    );
    assert_eq!(circuit.retry_tokens(), 0);

    let err = op.run(&circuit, "b", || attempts.fail()).await.unwrap_err();
    assert_eq!(err.code(), Some("SlowDown"), "the last error, as it was");
    assert_eq!(attempts.total(), 4, "no retry without tokens");
    assert_eq!(metrics::retries_skipped_total(OP, SkippedRetry::Budget), 1);
    assert_exported_skips(OP, "budget", 1);
    assert_eq!(metrics::retry_attempts_total(OP, 2), 1);
}

#[tokio::test(start_paused = true)]
async fn successes_refill_the_budget_up_to_its_capacity() {
    let op = Operation::with_policy(UPLOAD, "budget_refill", exact_policy(3));
    let circuit = breaker("budget-refill", Some(20));
    let failures = AtomicU32::new(2);

    // Two failed attempts, then a success: its retries' 10 tokens come back.
    op.run(&circuit, "b", || async {
        match failures.fetch_sub(1, Ordering::SeqCst) {
            1.. => Err(slow_down()),
            0 => Ok(()),
        }
    })
    .await
    .expect("the third attempt succeeds");
    assert_eq!(circuit.retry_tokens(), 20);

    // A failed call keeps what its retries took; a first-time success returns one token.
    let _ = op
        .run(&circuit, "b", || async { Err::<(), _>(slow_down()) })
        .await;
    assert_eq!(circuit.retry_tokens(), 10);
    for expected in 11..=12 {
        op.run(&circuit, "b", || async { Ok::<_, S3Error>(()) })
            .await
            .unwrap();
        assert_eq!(circuit.retry_tokens(), expected);
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_an_attempt_timeout_costs_more() {
    let op = Operation::with_policy(UPLOAD, "budget_timeout_cost", exact_policy(2));
    let circuit = breaker("budget-timeout-cost", Some(100));
    let _ = op
        .run(&circuit, "b", || async {
            Err::<(), S3Error>(AttemptTimeout::new(Duration::from_millis(5)).into())
        })
        .await;
    assert_eq!(circuit.retry_tokens(), 100 - TIMEOUT_RETRY_COST);
}

#[tokio::test(start_paused = true)]
async fn an_unlimited_budget_never_skips_a_retry() {
    const OP: &str = "budget_unlimited";
    let op = Operation::with_policy(UPLOAD, OP, exact_policy(3));
    let circuit = breaker("budget-unlimited", None);
    let attempts = Attempts::default();
    for _ in 0..200 {
        let _ = op.run(&circuit, "b", || attempts.fail()).await;
    }
    assert_eq!(attempts.total(), 600);
    assert_eq!(circuit.retry_tokens(), u32::MAX);
    assert_eq!(metrics::retries_skipped_total(OP, SkippedRetry::Budget), 0);
}

#[tokio::test(start_paused = true)]
async fn calls_without_a_breaker_share_one_process_wide_budget() {
    const OP: &str = "budget_unguarded";
    let op = Operation::with_policy(OperationClass::Cleanup, OP, exact_policy(2));
    let attempts = Attempts::default();
    // The default capacity, 500 tokens, pays for 100 retries; the calls after that make one
    // attempt each. (Other tests of this binary run no unguarded retries.)
    for _ in 0..150 {
        let _ = op.run_without_breaker("b", || attempts.fail()).await;
    }
    assert_eq!(attempts.total(), 150 + 100);
    assert_eq!(metrics::retries_skipped_total(OP, SkippedRetry::Budget), 50);
}

// ---- the circuit, re-checked ----

#[tokio::test(start_paused = true)]
async fn a_retry_is_not_made_once_the_circuit_is_open() {
    const OP: &str = "recheck_before_backoff";
    let op = Operation::with_policy(UPLOAD, OP, exact_policy(3));
    let circuit = breaker("recheck-before-backoff", Some(500));
    let attempts = Attempts::default();

    let start = Instant::now();
    let err = op
        .run(&circuit, "b", || async {
            attempts.count();
            // Another call trips the circuit while this attempt is in flight.
            circuit.force_open();
            Err::<(), _>(slow_down())
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some("SlowDown"),
        "the last error, not a refusal"
    );
    assert_eq!(attempts.total(), 1);
    assert_eq!(start.elapsed(), Duration::ZERO, "no backoff is slept");
    assert_eq!(circuit.retry_tokens(), 500, "no token is taken");
    assert_eq!(
        metrics::retries_skipped_total(OP, SkippedRetry::CircuitOpen),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn a_circuit_that_opens_during_the_backoff_ends_the_call_after_it() {
    const OP: &str = "recheck_after_backoff";
    let op = Operation::with_policy(UPLOAD, OP, exact_policy(3));
    let circuit = breaker("recheck-after-backoff", Some(500));
    let attempts = Attempts::default();

    let call = op.run(&circuit, "b", || attempts.fail());
    let trip = async {
        // Half-way through the first backoff (1 s).
        tokio::time::sleep(Duration::from_millis(500)).await;
        circuit.force_open();
    };
    let (result, ()) = tokio::join!(call, trip);
    assert_eq!(result.unwrap_err().code(), Some("SlowDown"));
    assert_eq!(attempts.total(), 1, "no request after the backoff");
    assert_eq!(
        circuit.retry_tokens(),
        500,
        "the retry not made is refunded"
    );
    assert_eq!(
        metrics::retries_skipped_total(OP, SkippedRetry::CircuitOpen),
        1
    );
    assert_exported_skips(OP, "circuit_open", 1);
    assert_eq!(metrics::retry_attempts_total(OP, 2), 0);
}

#[tokio::test(start_paused = true)]
async fn a_half_open_probe_retries_through_its_own_slot() {
    let op = Operation::with_policy(UPLOAD, "recheck_probe", exact_policy(3));
    let circuit = CircuitBreaker::with_config(
        "recheck-probe",
        BreakerConfig {
            open_timeout: secs(10),
            ..BreakerConfig::default()
        },
    );
    circuit.force_open();
    tokio::time::advance(secs(10)).await;
    assert_eq!(circuit.state(), CircuitState::HalfOpen);
    let failures = AtomicU32::new(2);

    op.run(&circuit, "b", || async {
        assert!(circuit.acquire().is_err(), "the probe holds the only slot");
        match failures.fetch_sub(1, Ordering::SeqCst) {
            1.. => Err(slow_down()),
            0 => Ok(()),
        }
    })
    .await
    .expect("the probe's third attempt succeeds");
}

#[tokio::test(start_paused = true)]
async fn a_call_admitted_while_closed_makes_no_retry_once_its_circuit_half_opened() {
    let op = Operation::with_policy(UPLOAD, "recheck_half_open", exact_policy(3));
    let circuit = CircuitBreaker::with_config(
        "recheck-half-open",
        BreakerConfig {
            open_timeout: Duration::from_millis(100),
            ..BreakerConfig::default()
        },
    );
    let attempts = Attempts::default();
    let err = op
        .run(&circuit, "b", || async {
            if attempts.count() == 1 {
                circuit.force_open();
                // Past the open timeout, and a probe takes the slot.
                tokio::time::advance(Duration::from_millis(200)).await;
                let probe = circuit.acquire().expect("a probe");
                std::mem::forget(probe);
            }
            Err::<(), _>(slow_down())
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("SlowDown"));
    assert_eq!(attempts.total(), 1, "only probes reach S3 while half-open");
}

#[tokio::test(start_paused = true)]
async fn a_disabled_breaker_still_lets_retries_through() {
    let op = Operation::with_policy(UPLOAD, "recheck_disabled", exact_policy(3));
    let circuit = breaker("recheck-disabled", Some(500));
    circuit.disable();
    let attempts = Attempts::default();
    let _ = op.run(&circuit, "b", || attempts.fail()).await;
    assert_eq!(attempts.total(), 3);
}

// ---- the deadline ----

#[tokio::test(start_paused = true)]
async fn a_backoff_that_would_end_past_the_deadline_is_not_slept() {
    const OP: &str = "deadline_backoff";
    // Backoffs of 1 s and 2 s: the second would end at 3 s, past the 2.5 s deadline.
    let op = Operation::with_policy(UPLOAD, OP, exact_policy(3))
        .with_deadline(Duration::from_millis(2_500));
    let circuit = breaker("deadline-backoff", Some(500));
    let attempts = Attempts::default();

    let start = Instant::now();
    let err = op.run(&circuit, "b", || attempts.fail()).await.unwrap_err();
    assert_eq!(err.code(), Some("SlowDown"));
    assert_eq!(attempts.total(), 2);
    assert_eq!(
        start.elapsed(),
        secs(1),
        "ends at once, not at the deadline"
    );
    assert_eq!(
        metrics::retries_skipped_total(OP, SkippedRetry::Deadline),
        1
    );
    assert_exported_skips(OP, "deadline", 1);
}

#[tokio::test(start_paused = true)]
async fn an_attempt_running_at_the_deadline_is_cancelled_and_fails_as_a_timeout() {
    let op =
        Operation::with_policy(UPLOAD, "deadline_attempt", exact_policy(3)).with_deadline(secs(5));
    let circuit = breaker("deadline-attempt", Some(500));

    let start = Instant::now();
    let err = op
        .run(&circuit, "b", || async {
            tokio::time::sleep(secs(3600)).await;
            Ok::<_, S3Error>(())
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), S3ErrorKind::AttemptTimeout);
    assert_eq!(start.elapsed(), secs(5));
}

#[tokio::test(start_paused = true)]
async fn the_deadline_shortens_the_last_attempts_timeout() {
    // Attempts of at most 2 s, backoffs of 1 s, deadline 4 s: 0–2 s, 3–4 s (cut at the deadline).
    let op = Operation::with_policy(UPLOAD, "deadline_timeout", exact_policy(3))
        .with_timeout(secs(2))
        .with_deadline(secs(4));
    let circuit = breaker("deadline-timeout", Some(500));
    let attempts = Attempts::default();

    let start = Instant::now();
    let err = op
        .run(&circuit, "b", || async {
            attempts.count();
            tokio::time::sleep(secs(3600)).await;
            Ok::<_, S3Error>(())
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), S3ErrorKind::AttemptTimeout);
    assert_eq!(attempts.total(), 2);
    assert_eq!(start.elapsed(), secs(4));
}

// ---- the cap on attempts ----

#[tokio::test(start_paused = true)]
async fn attempts_are_capped_and_their_series_created_as_they_happen() {
    const OP: &str = "attempts_capped";
    let policy = RetryPolicy {
        max_attempts: 1_000_000,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
        ..exact_policy(1)
    };
    assert_eq!(policy.attempts(), MAX_ATTEMPTS);
    let op = Operation::with_policy(UPLOAD, OP, policy);
    assert_eq!(op.policy().max_attempts, MAX_ATTEMPTS);
    let circuit = breaker("attempts-capped", None);

    let attempts = Attempts::default();
    let _ = op.run(&circuit, "b", || attempts.fail()).await;
    assert_eq!(attempts.total(), MAX_ATTEMPTS);
    assert_eq!(metrics::retry_attempts_total(OP, MAX_ATTEMPTS), 1);
    assert_eq!(metrics::retry_attempts_total(OP, MAX_ATTEMPTS + 1), 0);

    // One attempt made: only its series exists.
    const ONE: &str = "attempts_one";
    let op = Operation::with_policy(
        UPLOAD,
        ONE,
        RetryPolicy {
            max_attempts: 50,
            ..policy
        },
    );
    op.run(&circuit, "b", || async { Ok::<_, S3Error>(()) })
        .await
        .unwrap();
    let text = metrics::render();
    let series = text
        .lines()
        .filter(|l| l.starts_with("s3_retry_attempts_total") && l.contains(ONE))
        .count();
    assert_eq!(series, 1, "{text}");
}
