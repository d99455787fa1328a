//! The retry policy (backoff, jitter, server hints; exact values and properties over arbitrary
//! inputs) and the retry loop of `Operation::run` on tokio's paused clock.

mod support;

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use proptest::prelude::*;
use s3_ops_runtime::retry::{Jitter, RetryPolicy};
use s3_ops_runtime::{
    AttemptTimeout, BreakerConfig, CircuitBreaker, CircuitState, Classify, Operation,
    OperationClass, S3Error, S3ErrorKind,
};
use support::{exact_policy, secs};
use tokio::time::Instant;

// ---- the policy ----

#[test]
fn the_defaults_are_the_seeds() {
    let p = RetryPolicy::DEFAULT;
    assert_eq!(p.max_attempts, 3);
    assert_eq!(p.base_delay, secs(1));
    assert_eq!(p.max_delay, secs(30));
    assert_eq!(p.factor, 2);
    assert!(matches!(p.jitter, Jitter::Equal));
    assert_eq!(RetryPolicy::default().max_attempts, 3);
    assert_eq!(RetryPolicy::NO_RETRY.max_attempts, 1);

    assert_eq!(OperationClass::Upload.default_policy().max_attempts, 3);
    assert_eq!(OperationClass::Download.default_policy().max_attempts, 3);
    assert_eq!(OperationClass::Cleanup.default_policy().max_attempts, 1);
    let op = Operation::new(OperationClass::Download, "get_object");
    assert_eq!(op.class(), OperationClass::Download);
    assert_eq!(op.policy().max_attempts, 3);
    assert_eq!(OperationClass::Cleanup.as_str(), "cleanup");
}

#[test]
fn backoff_doubles_from_the_base_up_to_the_cap() {
    let p = exact_policy(3);
    let delays: Vec<Duration> = (1..=8).map(|n| p.backoff(n)).collect();
    let expected: Vec<Duration> = [1, 2, 4, 8, 16, 30, 30, 30].map(secs).to_vec();
    assert_eq!(delays, expected);
    assert_eq!(p.backoff(u32::MAX), secs(30));

    let p = RetryPolicy {
        base_delay: Duration::from_millis(250),
        max_delay: secs(2),
        factor: 3,
        ..exact_policy(5)
    };
    let delays: Vec<u128> = (1..=4).map(|n| p.backoff(n).as_millis()).collect();
    assert_eq!(delays, [250, 750, 2000, 2000]);
}

#[test]
fn without_jitter_the_delay_is_the_backoff() {
    let p = exact_policy(3);
    assert_eq!(p.delay(1, None), secs(1));
    assert_eq!(p.delay(2, None), secs(2));
    assert_eq!(p.delay(3, None), secs(4));
}

#[test]
fn a_server_hint_wins_when_longer_and_is_still_capped() {
    let p = exact_policy(3);
    assert_eq!(p.delay(1, Some(secs(5))), secs(5));
    assert_eq!(p.delay(3, Some(Duration::from_millis(10))), secs(4));
    assert_eq!(p.delay(1, Some(secs(3600))), secs(30));
}

thread_local! {
    static UNIT: Cell<f64> = const { Cell::new(0.0) };
}

/// A jitter source returning whatever the test stored in `UNIT`.
fn stored_unit() -> f64 {
    UNIT.with(Cell::get)
}

fn with_unit(unit: f64) -> RetryPolicy {
    UNIT.with(|u| u.set(unit));
    RetryPolicy {
        jitter: Jitter::EqualWith(stored_unit),
        ..RetryPolicy::DEFAULT
    }
}

#[test]
fn equal_jitter_spreads_delays_over_the_upper_half() {
    // Attempt 3: a backoff of 4 s, jittered into [2 s, 4 s].
    assert_eq!(with_unit(0.0).delay(3, None), secs(2));
    assert_eq!(with_unit(0.5).delay(3, None), secs(3));
    assert_eq!(with_unit(0.25).delay(3, None), Duration::from_millis(2500));
    assert_eq!(with_unit(0.999_999).delay(3, None).as_millis(), 3999);
    // A faulty source cannot leave the interval.
    for unit in [1.0, 7.0, f64::INFINITY, f64::NAN] {
        let d = with_unit(unit).delay(3, None);
        assert!(d <= secs(4) && d >= secs(2), "{unit}: {d:?}");
    }
    for unit in [-1.0, f64::NEG_INFINITY, -0.0] {
        let d = with_unit(unit).delay(3, None);
        assert!(d <= secs(4) && d >= secs(2), "{unit}: {d:?}");
    }
}

#[test]
fn the_default_jitter_varies_within_the_upper_half() {
    let p = RetryPolicy::DEFAULT;
    let delays: Vec<Duration> = (0..200).map(|_| p.delay(3, None)).collect();
    assert!(delays.iter().all(|d| *d >= secs(2) && *d <= secs(4)));
    let first = delays[0];
    assert!(
        delays.iter().any(|d| *d != first),
        "200 jittered delays were all {first:?}"
    );
}

fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        (0u64..100_000_000_000).prop_map(Duration::from_nanos),
        Just(Duration::ZERO),
        Just(Duration::MAX),
    ]
}

fn any_attempt() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..=64, any::<u32>(), Just(u32::MAX)]
}

fn any_unit() -> impl Strategy<Value = f64> {
    prop_oneof![
        0.0f64..1.0,
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(1.0),
        Just(-0.0),
    ]
}

/// `base × factor^(attempt−1)` capped at `max`, computed the slow way.
fn reference_backoff(base: Duration, max: Duration, factor: u32, attempt: u32) -> Duration {
    let mut nanos = base.as_nanos();
    for _ in 1..attempt.max(1) {
        nanos = nanos.saturating_mul(u128::from(factor));
        if nanos >= max.as_nanos() {
            return max;
        }
    }
    if nanos >= max.as_nanos() {
        max
    } else {
        Duration::from_nanos(nanos as u64)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn backoff_never_exceeds_max_delay_nor_panics(
        base in any_duration(),
        max in any_duration(),
        factor in any::<u32>(),
    ) {
        let p = RetryPolicy { base_delay: base, max_delay: max, factor, ..exact_policy(3) };
        for attempt in (0..=64).chain([1000, u32::MAX - 1, u32::MAX]) {
            prop_assert!(p.backoff(attempt) <= max, "attempt {}", attempt);
        }
    }

    #[test]
    fn backoff_is_base_times_factor_powers_capped(
        base_ms in 0u64..10_000,
        max_ms in 0u64..100_000_000,
        factor in 0u32..10,
        attempt in 0u32..=64,
    ) {
        let (base, max) = (Duration::from_millis(base_ms), Duration::from_millis(max_ms));
        let p = RetryPolicy { base_delay: base, max_delay: max, factor, ..exact_policy(3) };
        prop_assert_eq!(p.backoff(attempt), reference_backoff(base, max, factor, attempt));
    }

    #[test]
    fn backoff_never_shrinks_from_one_attempt_to_the_next(
        base in any_duration(),
        max in any_duration(),
        factor in 1u32..=u32::MAX,
        attempt in any_attempt(),
    ) {
        let p = RetryPolicy { base_delay: base, max_delay: max, factor, ..exact_policy(3) };
        prop_assert!(p.backoff(attempt.saturating_add(1)) >= p.backoff(attempt));
    }

    #[test]
    fn the_delay_stays_within_half_the_backoff_and_max_delay(
        base in any_duration(),
        max in any_duration(),
        factor in any::<u32>(),
        attempt in any_attempt(),
        unit in any_unit(),
        hint in proptest::option::of(any_duration()),
    ) {
        UNIT.with(|u| u.set(unit));
        for jitter in [Jitter::EqualWith(stored_unit), Jitter::Equal, Jitter::None] {
            let p = RetryPolicy { base_delay: base, max_delay: max, factor, jitter, max_attempts: 3 };
            let backoff = p.backoff(attempt);
            let delay = p.delay(attempt, hint);
            prop_assert!(delay <= max, "{:?} > max {:?}", delay, max);
            prop_assert!(delay >= backoff / 2, "{:?} < half of {:?}", delay, backoff);
            if hint.is_none() {
                prop_assert!(delay <= backoff, "{:?} > backoff {:?}", delay, backoff);
            }
            if let Some(hint) = hint {
                prop_assert!(delay >= hint.min(max), "{:?} ignores hint {:?}", delay, hint);
            }
        }
    }
}

// ---- the retry loop of `Operation::run` ----

/// An attempt that fails with `errors[n]` on its n-th run, then succeeds; records when each
/// attempt started (virtual time).
struct Script {
    errors: Vec<S3Error>,
    runs: AtomicU32,
    starts: Mutex<Vec<Instant>>,
}

impl Script {
    fn new(errors: impl IntoIterator<Item = S3Error>) -> Self {
        Self {
            errors: errors.into_iter().collect(),
            runs: AtomicU32::new(0),
            starts: Mutex::new(Vec::new()),
        }
    }

    async fn attempt(&self) -> Result<u32, S3Error> {
        let n = self.runs.fetch_add(1, Ordering::SeqCst);
        self.starts.lock().unwrap().push(Instant::now());
        match self.errors.get(n as usize) {
            Some(err) => Err(clone_error(err)),
            None => Ok(n + 1),
        }
    }

    fn runs(&self) -> u32 {
        self.runs.load(Ordering::SeqCst)
    }

    /// The virtual time between consecutive attempts.
    fn gaps(&self) -> Vec<Duration> {
        let starts = self.starts.lock().unwrap();
        starts.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

/// The errors used here are all hand-built service errors, so code and status suffice.
fn clone_error(err: &S3Error) -> S3Error {
    S3Error::service(err.code().unwrap_or_default(), err.status())
}

fn slow_down() -> S3Error {
    S3Error::service("SlowDown", Some(503))
}

const UPLOAD: OperationClass = OperationClass::Upload;

/// One call whose every attempt fails with `SlowDown`.
async fn failed_call(op: &Operation, breaker: &CircuitBreaker) {
    let script = Script::new((0..op.policy().max_attempts).map(|_| slow_down()));
    let result = op.run(breaker, "b", || script.attempt()).await;
    assert_eq!(
        result.expect_err("every attempt fails").code(),
        Some("SlowDown")
    );
}

#[tokio::test(start_paused = true)]
async fn transient_errors_are_retried_with_exponential_backoff_until_success() {
    let op = Operation::with_policy(UPLOAD, "retry_until_success", exact_policy(3));
    let breaker = CircuitBreaker::new("retry-until-success");
    let script = Script::new([slow_down(), slow_down()]);

    let start = Instant::now();
    let result = op.run(&breaker, "b", || script.attempt()).await;
    assert_eq!(result.expect("the third attempt succeeds"), 3);
    assert_eq!(script.runs(), 3);
    assert_eq!(script.gaps(), [secs(1), secs(2)]);
    assert_eq!(start.elapsed(), secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_call_stops_after_max_attempts_and_returns_the_last_error() {
    let op = Operation::with_policy(UPLOAD, "retry_exhausted", exact_policy(3));
    let breaker = CircuitBreaker::new("retry-exhausted");
    let script = Script::new([
        slow_down(),
        S3Error::service("InternalError", Some(500)),
        S3Error::service("ServiceUnavailable", Some(503)),
        slow_down(),
    ]);
    let err = op
        .run(&breaker, "b", || script.attempt())
        .await
        .expect_err("three transient failures");
    assert_eq!(err.code(), Some("ServiceUnavailable"));
    assert_eq!(script.runs(), 3);
    assert_eq!(script.gaps(), [secs(1), secs(2)]);

    let op = Operation::with_policy(UPLOAD, "retry_five", exact_policy(5));
    let script = Script::new((0..10).map(|_| slow_down()));
    let _ = op.run(&breaker, "b", || script.attempt()).await;
    assert_eq!(script.runs(), 5);
    assert_eq!(script.gaps(), [1, 2, 4, 8].map(secs));
}

#[tokio::test(start_paused = true)]
async fn non_retryable_errors_are_returned_after_one_attempt() {
    let op = Operation::with_policy(UPLOAD, "no_retry_client", exact_policy(3));
    let breaker = CircuitBreaker::new("no-retry-client");
    for (code, status) in [
        ("NoSuchKey", 404),
        ("AccessDenied", 403),
        ("InvalidArgument", 400),
        ("SomethingNew", 501),
    ] {
        let script = Script::new([S3Error::service(code, Some(status)), slow_down()]);
        let err = op
            .run(&breaker, "b", || script.attempt())
            .await
            .expect_err("not retried");
        assert_eq!(err.code(), Some(code));
        assert_eq!(script.runs(), 1, "{code} must not be retried");
    }
}

#[tokio::test(start_paused = true)]
async fn the_breaker_records_one_outcome_per_call_not_per_attempt() {
    let op = Operation::with_policy(UPLOAD, "one_record_per_call", exact_policy(3));
    let breaker = CircuitBreaker::new("one-record-per-call");
    // Four calls of three failed attempts each: twelve failed attempts, four failed calls.
    for _ in 0..4 {
        let script = Script::new((0..3).map(|_| slow_down()));
        let _ = op.run(&breaker, "b", || script.attempt()).await;
        assert_eq!(script.runs(), 3);
    }
    assert_eq!(breaker.state(), CircuitState::Closed);

    // A call that succeeds after retries is one success: it forgets the four failures.
    let script = Script::new([slow_down(), slow_down()]);
    op.run(&breaker, "b", || script.attempt()).await.unwrap();
    for _ in 0..4 {
        let script = Script::new((0..3).map(|_| slow_down()));
        let _ = op.run(&breaker, "b", || script.attempt()).await;
    }
    assert_eq!(breaker.state(), CircuitState::Closed);
    let script = Script::new((0..3).map(|_| slow_down()));
    let _ = op.run(&breaker, "b", || script.attempt()).await;
    assert_eq!(
        breaker.state(),
        CircuitState::Open,
        "the fifth failed call opens it"
    );
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_refuses_the_call_without_running_the_attempt() {
    let op = Operation::with_policy(UPLOAD, "refused", exact_policy(3));
    let breaker = CircuitBreaker::new("refused");
    breaker.force_open();
    let script = Script::new([]);
    let err = op
        .run(&breaker, "b", || script.attempt())
        .await
        .expect_err("open");
    assert!(err.is_circuit_open());
    assert_eq!(err.kind(), S3ErrorKind::CircuitOpen);
    assert_eq!(
        err.circuit_open().map(|o| (o.circuit(), o.retry_after())),
        Some(("refused", secs(60)))
    );
    assert_eq!(script.runs(), 0);
}

#[tokio::test(start_paused = true)]
async fn local_failures_are_not_retried_and_record_nothing_on_the_breaker() {
    let op = Operation::with_policy(UPLOAD, "local_failure", exact_policy(3));
    let breaker = CircuitBreaker::new("local-failure");
    for _ in 0..4 {
        failed_call(&op, &breaker).await;
    }
    // Ten calls that never reached S3: no retry, and neither a success (which would forget the
    // four failures) nor a failure (which would open the circuit).
    for _ in 0..10 {
        let runs = AtomicU32::new(0);
        let err = op
            .run(&breaker, "b", || async {
                runs.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(S3Error::from_source(
                    S3ErrorKind::Construction,
                    "no region configured",
                ))
            })
            .await
            .expect_err("local");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(err.kind(), S3ErrorKind::Construction);
    }
    assert_eq!(breaker.state(), CircuitState::Closed);
    failed_call(&op, &breaker).await;
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_server_retry_hint_lengthens_the_wait() {
    /// A `SlowDown` whose server asked for 7 s.
    #[derive(Debug)]
    struct Hinted;
    impl Classify for Hinted {
        fn classify(&self) -> s3_ops_runtime::ErrorClass {
            s3_ops_runtime::ErrorClass::Transient
        }
        fn retry_after(&self) -> Option<Duration> {
            Some(secs(7))
        }
    }
    impl From<s3_ops_runtime::CircuitOpen> for Hinted {
        fn from(_: s3_ops_runtime::CircuitOpen) -> Self {
            Hinted
        }
    }
    impl From<AttemptTimeout> for Hinted {
        fn from(_: AttemptTimeout) -> Self {
            Hinted
        }
    }

    let op = Operation::with_policy(UPLOAD, "hinted", exact_policy(3));
    let breaker = CircuitBreaker::new("hinted");
    let start = Instant::now();
    let runs = AtomicU32::new(0);
    let result = op
        .run(&breaker, "b", || async {
            if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(Hinted)
            } else {
                Ok(())
            }
        })
        .await;
    assert!(result.is_ok());
    assert_eq!(
        start.elapsed(),
        secs(7),
        "the 7 s hint beats the 1 s backoff"
    );
}

#[tokio::test(start_paused = true)]
async fn an_attempt_past_its_timeout_is_a_transient_failure() {
    let op =
        Operation::with_policy(UPLOAD, "attempt_timeout", exact_policy(3)).with_timeout(secs(5));
    let breaker = CircuitBreaker::new("attempt-timeout");
    let runs = AtomicU32::new(0);
    let start = Instant::now();
    let result = op
        .run(&breaker, "b", || async {
            if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                tokio::time::sleep(secs(3600)).await;
            }
            Ok::<_, S3Error>("done")
        })
        .await;
    assert_eq!(result.expect("the second attempt is quick"), "done");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    // 5 s limit, then the 1 s backoff.
    assert_eq!(start.elapsed(), secs(6));

    // Every attempt too slow: the error says so.
    let err = op
        .run(&breaker, "b", || async {
            tokio::time::sleep(secs(3600)).await;
            Ok::<_, S3Error>("never")
        })
        .await
        .expect_err("three timeouts");
    assert_eq!(err.kind(), S3ErrorKind::AttemptTimeout);
    assert!(err.to_string().contains("timed out after 5s"), "{err}");
    assert_eq!(
        breaker.state(),
        CircuitState::Closed,
        "one failed call of five"
    );
}

#[tokio::test(start_paused = true)]
async fn cleanup_runs_without_a_breaker_and_once_by_default() {
    let op = Operation::new(OperationClass::Cleanup, "delete_object");
    let script = Script::new([slow_down(), slow_down()]);
    let err = op
        .run_without_breaker("b", || script.attempt())
        .await
        .expect_err("one attempt only");
    assert_eq!(err.code(), Some("SlowDown"));
    assert_eq!(script.runs(), 1);

    // Cleanup may opt into retries.
    let op = Operation::with_policy(OperationClass::Cleanup, "delete_objects", exact_policy(3));
    let script = Script::new([slow_down(), slow_down()]);
    assert_eq!(
        op.run_without_breaker("b", || script.attempt())
            .await
            .unwrap(),
        3
    );
}

#[tokio::test(start_paused = true)]
async fn probes_through_operations_close_a_half_open_circuit() {
    let op = Operation::with_policy(UPLOAD, "probe_calls", exact_policy(3));
    let breaker = CircuitBreaker::with_config(
        "probe-calls",
        BreakerConfig {
            open_timeout: secs(10),
            ..BreakerConfig::default()
        },
    );
    breaker.force_open();
    tokio::time::advance(secs(10)).await;
    // A probe that needed a retry is still one successful probe.
    let script = Script::new([slow_down()]);
    op.run(&breaker, "b", || script.attempt()).await.unwrap();
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    let script = Script::new([]);
    op.run(&breaker, "b", || script.attempt()).await.unwrap();
    assert_eq!(breaker.state(), CircuitState::Closed);

    // A probe that fails after its retries reopens the circuit.
    breaker.force_open();
    tokio::time::advance(secs(10)).await;
    let script = Script::new((0..3).map(|_| slow_down()));
    let _ = op.run(&breaker, "b", || script.attempt()).await;
    assert_eq!(breaker.state(), CircuitState::Open);
}
