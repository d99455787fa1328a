//! Every transition of `CircuitBreaker`, on tokio's paused clock: the 60 s open timeout is
//! advanced, never slept.

use std::time::Duration;

use s3_ops_runtime::{BreakerConfig, CircuitBreaker, CircuitState, S3Error};
use tokio::time::advance;

const OPEN_TIMEOUT: Duration = Duration::from_secs(60);
const MS: Duration = Duration::from_millis(1);

fn fail(breaker: &CircuitBreaker, n: usize) {
    for _ in 0..n {
        breaker.record_failure();
    }
}

/// Opens `breaker` with the default five failures and checks it did.
fn open(breaker: &CircuitBreaker) {
    fail(breaker, 5);
    assert_eq!(breaker.state(), CircuitState::Open);
}

/// Opens `breaker` and waits out the open timeout, so the next call is a probe.
async fn half_open(breaker: &CircuitBreaker) {
    open(breaker);
    advance(OPEN_TIMEOUT).await;
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
}

/// The time left that a refused `acquire` reports.
fn time_left(breaker: &CircuitBreaker) -> Duration {
    breaker
        .acquire()
        .expect_err("the circuit should refuse the call")
        .retry_after()
}

#[tokio::test(start_paused = true)]
async fn a_new_breaker_is_closed_and_admits_calls() {
    let breaker = CircuitBreaker::new("fresh");
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.name(), "fresh");
    assert_eq!(breaker.config(), BreakerConfig::default());
    let permit = breaker.acquire().expect("a closed circuit admits calls");
    assert!(!permit.is_probe());
    permit.success();
    assert_eq!(breaker.stats(), Default::default());
}

#[test]
fn the_default_config_is_the_seeds() {
    let config = BreakerConfig::default();
    assert_eq!(config.failure_threshold, 5);
    assert_eq!(config.success_threshold, 2);
    assert_eq!(config.open_timeout, Duration::from_secs(60));
    assert_eq!(config.half_open_max_calls, 1);
}

#[tokio::test(start_paused = true)]
async fn four_consecutive_failures_leave_it_closed_the_fifth_opens_it() {
    let breaker = CircuitBreaker::new("five-failures");
    fail(&breaker, 4);
    assert_eq!(breaker.state(), CircuitState::Closed);
    breaker.acquire().expect("4 failures do not open").success();

    let breaker = CircuitBreaker::new("five-failures-again");
    fail(&breaker, 4);
    breaker.acquire().expect("still closed").failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert!(breaker.acquire().is_err());
    assert_eq!(breaker.stats().opened, 1);
}

#[tokio::test(start_paused = true)]
async fn failures_recorded_through_permits_open_it_too() {
    let breaker = CircuitBreaker::new("permit-failures");
    for _ in 0..4 {
        breaker.acquire().expect("closed").failure();
        assert_eq!(breaker.state(), CircuitState::Closed);
    }
    breaker.acquire().expect("closed").failure();
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_success_in_between_resets_the_failure_count() {
    let breaker = CircuitBreaker::new("success-resets");
    fail(&breaker, 4);
    breaker.record_success();
    fail(&breaker, 4);
    assert_eq!(breaker.state(), CircuitState::Closed);
    breaker.record_failure();
    assert_eq!(breaker.state(), CircuitState::Open);

    // The same through a permit's success.
    let breaker = CircuitBreaker::new("permit-success-resets");
    fail(&breaker, 4);
    breaker.acquire().expect("closed").success();
    fail(&breaker, 4);
    assert_eq!(breaker.state(), CircuitState::Closed);
    breaker.record_failure();
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn an_open_circuit_fails_fast_naming_itself_and_the_time_left() {
    let breaker = CircuitBreaker::new("s3-upload-under-test");
    open(&breaker);

    let refused = breaker
        .acquire()
        .expect_err("an open circuit refuses calls");
    assert_eq!(refused.circuit(), "s3-upload-under-test");
    assert_eq!(refused.retry_after(), OPEN_TIMEOUT);
    let message = refused.to_string();
    assert!(message.contains("s3-upload-under-test"), "{message}");
    assert!(message.contains("60.0s"), "{message}");

    advance(Duration::from_secs(15)).await;
    let refused = breaker.acquire().expect_err("still open");
    assert_eq!(refused.retry_after(), Duration::from_secs(45));
    assert!(refused.to_string().contains("45.0s"), "{refused}");

    advance(Duration::from_millis(44_999)).await;
    assert_eq!(time_left(&breaker), MS);

    // As the error of an S3 call.
    let err = S3Error::from(refused);
    assert!(err.is_circuit_open());
    assert_eq!(
        err.circuit_open().map(|open| open.circuit()),
        Some("s3-upload-under-test")
    );
    assert_eq!(err.code(), None);
    assert_eq!(err.status(), None);
}

#[tokio::test(start_paused = true)]
async fn it_half_opens_exactly_when_the_open_timeout_has_elapsed() {
    let breaker = CircuitBreaker::new("half-open-at-60s");
    open(&breaker);

    advance(OPEN_TIMEOUT - MS).await;
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(time_left(&breaker), MS);

    advance(MS).await;
    // Read without any call having been made: the state follows the clock.
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    let probe = breaker
        .acquire()
        .expect("a half-open circuit admits a probe");
    assert!(probe.is_probe());
    assert_eq!(breaker.stats().half_opened, 1);
    drop(probe);
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_one_probe_by_default_and_refuses_the_others() {
    let breaker = CircuitBreaker::new("one-probe");
    half_open(&breaker).await;

    let probe = breaker.acquire().expect("the first call is the probe");
    assert!(probe.is_probe());
    for _ in 0..10 {
        let refused = breaker.acquire().expect_err("the probe slot is taken");
        assert_eq!(refused.circuit(), "one-probe");
        assert_eq!(refused.retry_after(), Duration::ZERO);
        assert!(refused.to_string().contains("half-open"), "{refused}");
    }
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    probe.success();
    // The slot is free again: the next call is the second probe.
    assert!(breaker.acquire().expect("slot freed").is_probe());
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_half_open_max_calls_probes() {
    let breaker = CircuitBreaker::with_config(
        "three-probes",
        BreakerConfig {
            half_open_max_calls: 3,
            ..BreakerConfig::default()
        },
    );
    half_open(&breaker).await;
    let probes: Vec<_> = (0..3)
        .map(|_| breaker.acquire().expect("three probes fit"))
        .collect();
    assert!(probes.iter().all(|p| p.is_probe()));
    assert!(breaker.acquire().is_err(), "a fourth probe must be refused");
    drop(probes);
    assert!(breaker.acquire().is_ok(), "dropped probes free their slots");
}

#[tokio::test(start_paused = true)]
async fn two_probe_successes_close_it() {
    let breaker = CircuitBreaker::new("two-successes");
    half_open(&breaker).await;

    breaker.acquire().expect("probe 1").success();
    assert_eq!(
        breaker.state(),
        CircuitState::HalfOpen,
        "one success is not enough"
    );
    breaker.acquire().expect("probe 2").success();
    assert_eq!(breaker.state(), CircuitState::Closed);

    // Closed again: calls are no longer probes and the failure count starts from zero.
    let permit = breaker.acquire().expect("closed");
    assert!(!permit.is_probe());
    permit.success();
    fail(&breaker, 4);
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(breaker.stats().closed, 1);
}

#[tokio::test(start_paused = true)]
async fn record_success_counts_as_a_probe_success_while_half_open() {
    let breaker = CircuitBreaker::new("record-success-half-open");
    half_open(&breaker).await;
    breaker.record_success();
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    breaker.record_success();
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_probe_failure_reopens_it_with_a_new_deadline() {
    let breaker = CircuitBreaker::new("probe-failure");
    half_open(&breaker).await;

    advance(Duration::from_secs(10)).await;
    breaker.acquire().expect("probe").failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    // The new deadline is 60 s from the probe's failure, not from the first opening.
    assert_eq!(time_left(&breaker), OPEN_TIMEOUT);
    advance(OPEN_TIMEOUT - MS).await;
    assert_eq!(breaker.state(), CircuitState::Open);
    advance(MS).await;
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    assert_eq!(breaker.stats().opened, 2);
}

#[tokio::test(start_paused = true)]
async fn a_probe_failure_after_one_success_still_reopens() {
    let breaker = CircuitBreaker::new("success-then-failure");
    half_open(&breaker).await;
    breaker.acquire().expect("probe 1").success();
    breaker.acquire().expect("probe 2").failure();
    assert_eq!(breaker.state(), CircuitState::Open);

    // The reopened circuit needs two fresh successes: the earlier one is forgotten.
    advance(OPEN_TIMEOUT).await;
    breaker.acquire().expect("probe").success();
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
}

#[tokio::test(start_paused = true)]
async fn record_failure_while_half_open_reopens() {
    let breaker = CircuitBreaker::new("record-failure-half-open");
    half_open(&breaker).await;
    breaker.record_failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(time_left(&breaker), OPEN_TIMEOUT);
}

#[tokio::test(start_paused = true)]
async fn a_late_failure_from_a_call_admitted_while_closed_does_not_extend_the_deadline() {
    let breaker = CircuitBreaker::new("late-failure");
    let in_flight = breaker.acquire().expect("closed");
    open(&breaker);

    advance(Duration::from_secs(30)).await;
    in_flight.failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(time_left(&breaker), Duration::from_secs(30));

    // Half-open 60 s after opening, not 60 s after the late failure.
    advance(Duration::from_secs(30) - MS).await;
    assert_eq!(breaker.state(), CircuitState::Open);
    advance(MS).await;
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    assert_eq!(breaker.stats().opened, 1);
}

#[tokio::test(start_paused = true)]
async fn record_failure_while_open_does_not_extend_the_deadline() {
    let breaker = CircuitBreaker::new("record-failure-open");
    open(&breaker);
    advance(Duration::from_secs(30)).await;
    fail(&breaker, 10);
    advance(Duration::from_secs(30)).await;
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
}

#[tokio::test(start_paused = true)]
async fn late_outcomes_of_calls_admitted_while_closed_are_not_probe_outcomes() {
    // A late failure arriving while half-open does not reopen the circuit.
    let breaker = CircuitBreaker::new("late-failure-half-open");
    let in_flight = breaker.acquire().expect("closed");
    half_open(&breaker).await;
    in_flight.failure();
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    assert!(breaker
        .acquire()
        .expect("the probe slot is untouched")
        .is_probe());

    // A late success arriving while half-open is not one of the two probe successes.
    let breaker = CircuitBreaker::new("late-success-half-open");
    let in_flight = breaker.acquire().expect("closed");
    half_open(&breaker).await;
    breaker.acquire().expect("probe").success();
    in_flight.success();
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    breaker.acquire().expect("probe").success();
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_late_success_does_not_close_an_open_circuit() {
    let breaker = CircuitBreaker::new("late-success-open");
    let in_flight = breaker.acquire().expect("closed");
    open(&breaker);
    in_flight.success();
    breaker.record_success();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(time_left(&breaker), OPEN_TIMEOUT);
}

#[tokio::test(start_paused = true)]
async fn a_probe_dropped_without_outcome_frees_its_slot_and_counts_nothing() {
    let breaker = CircuitBreaker::new("dropped-probe");
    half_open(&breaker).await;

    let probe = breaker.acquire().expect("probe");
    assert!(
        breaker.acquire().is_err(),
        "the slot is taken while the probe lives"
    );
    drop(probe);
    assert_eq!(
        breaker.state(),
        CircuitState::HalfOpen,
        "a drop is not a failure"
    );

    // Not a success either: closing still takes two successful probes.
    let probe = breaker.acquire().expect("the slot was freed");
    assert!(probe.is_probe());
    probe.success();
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    breaker.acquire().expect("probe").success();
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_permit_dropped_while_closed_counts_nothing() {
    let breaker = CircuitBreaker::new("dropped-closed");
    fail(&breaker, 4);
    drop(breaker.acquire().expect("closed"));
    // Not a failure (that would have opened it) ...
    assert_eq!(breaker.state(), CircuitState::Closed);
    // ... and not a success (that would have reset the count).
    breaker.record_failure();
    assert_eq!(breaker.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn reset_closes_the_circuit_and_forgets_failures() {
    let breaker = CircuitBreaker::new("reset");
    fail(&breaker, 4);
    breaker.reset();
    fail(&breaker, 4);
    assert_eq!(
        breaker.state(),
        CircuitState::Closed,
        "reset forgot the first 4"
    );

    breaker.record_failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    breaker.reset();
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert!(!breaker.acquire().expect("reset closes").is_probe());

    half_open(&breaker).await;
    let probe = breaker.acquire().expect("probe");
    breaker.reset();
    assert_eq!(breaker.state(), CircuitState::Closed);
    // The probe from before the reset neither reopens the circuit nor holds a slot.
    probe.failure();
    assert_eq!(breaker.state(), CircuitState::Closed);
    fail(&breaker, 4);
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn force_open_opens_for_the_open_timeout_from_any_state() {
    let breaker = CircuitBreaker::new("force-open");
    breaker.force_open();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(time_left(&breaker), OPEN_TIMEOUT);
    advance(OPEN_TIMEOUT).await;
    assert_eq!(breaker.state(), CircuitState::HalfOpen);

    // From half-open, with a probe in flight: a new deadline.
    let probe = breaker.acquire().expect("probe");
    advance(Duration::from_secs(5)).await;
    breaker.force_open();
    assert_eq!(time_left(&breaker), OPEN_TIMEOUT);
    probe.success();
    assert_eq!(
        breaker.state(),
        CircuitState::Open,
        "a stale probe cannot close it"
    );

    // Forcing an open circuit again restarts its timeout.
    advance(Duration::from_secs(20)).await;
    breaker.force_open();
    assert_eq!(time_left(&breaker), OPEN_TIMEOUT);
    assert_eq!(breaker.stats().opened, 3);
}

#[tokio::test(start_paused = true)]
async fn with_config_uses_custom_thresholds() {
    let breaker = CircuitBreaker::with_config(
        "custom",
        BreakerConfig {
            failure_threshold: 2,
            success_threshold: 3,
            open_timeout: Duration::from_secs(5),
            half_open_max_calls: 2,
            ..BreakerConfig::default()
        },
    );
    assert_eq!(breaker.config().failure_threshold, 2);
    breaker.record_failure();
    assert_eq!(breaker.state(), CircuitState::Closed);
    breaker.record_failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(time_left(&breaker), Duration::from_secs(5));

    advance(Duration::from_secs(5) - MS).await;
    assert_eq!(breaker.state(), CircuitState::Open);
    advance(MS).await;
    assert_eq!(breaker.state(), CircuitState::HalfOpen);

    let (a, b) = (breaker.acquire().expect("1"), breaker.acquire().expect("2"));
    assert!(breaker.acquire().is_err(), "only two probes");
    a.success();
    b.success();
    assert_eq!(
        breaker.state(),
        CircuitState::HalfOpen,
        "three successes needed"
    );
    breaker.acquire().expect("3").success();
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_failure_threshold_of_one_opens_on_the_first_failure() {
    let breaker = CircuitBreaker::with_config(
        "threshold-one",
        BreakerConfig {
            failure_threshold: 1,
            success_threshold: 1,
            ..BreakerConfig::default()
        },
    );
    breaker.record_failure();
    assert_eq!(breaker.state(), CircuitState::Open);
    advance(OPEN_TIMEOUT).await;
    breaker.acquire().expect("probe").success();
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[test]
#[should_panic(
    expected = "invalid `BreakerConfig` for circuit `bad-failures`: `failure_threshold` must be at least 1"
)]
fn a_zero_failure_threshold_panics_with_a_clear_message() {
    let _ = CircuitBreaker::with_config(
        "bad-failures",
        BreakerConfig {
            failure_threshold: 0,
            ..BreakerConfig::default()
        },
    );
}

#[test]
#[should_panic(
    expected = "invalid `BreakerConfig` for circuit `bad-successes`: `success_threshold` must be at least 1"
)]
fn a_zero_success_threshold_panics_with_a_clear_message() {
    let _ = CircuitBreaker::with_config(
        "bad-successes",
        BreakerConfig {
            success_threshold: 0,
            ..BreakerConfig::default()
        },
    );
}

#[test]
#[should_panic(
    expected = "invalid `BreakerConfig` for circuit `bad-probes`: `half_open_max_calls` must be at least 1"
)]
fn zero_half_open_calls_panics_with_a_clear_message() {
    let _ = CircuitBreaker::with_config(
        "bad-probes",
        BreakerConfig {
            half_open_max_calls: 0,
            ..BreakerConfig::default()
        },
    );
}

#[tokio::test(start_paused = true)]
async fn stats_count_every_transition() {
    let breaker = CircuitBreaker::new("stats");
    let stats = |opened, half_opened, closed| {
        let s = breaker.stats();
        assert_eq!(
            (s.opened, s.half_opened, s.closed),
            (opened, half_opened, closed),
            "{s:?}"
        );
    };
    stats(0, 0, 0);
    open(&breaker);
    stats(1, 0, 0);
    advance(OPEN_TIMEOUT).await;
    breaker.acquire().expect("probe").failure();
    stats(2, 1, 0);
    advance(OPEN_TIMEOUT).await;
    breaker.acquire().expect("probe").success();
    breaker.acquire().expect("probe").success();
    stats(2, 2, 1);
    breaker.force_open();
    stats(3, 2, 1);
    breaker.reset();
    stats(3, 2, 2);
    // Resetting a closed circuit with no failures changes nothing.
    breaker.reset();
    stats(3, 2, 2);
}

#[tokio::test(start_paused = true)]
async fn clones_share_one_breaker() {
    let breaker = CircuitBreaker::new("shared");
    let other = breaker.clone();
    fail(&other, 5);
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(other.name(), "shared");
    let debug = format!("{breaker:?}");
    assert!(
        debug.contains("shared") && debug.contains("Open"),
        "{debug}"
    );
}

#[test]
fn states_have_their_gauge_values_and_names() {
    assert_eq!(CircuitState::Closed as u8, 0);
    assert_eq!(CircuitState::HalfOpen as u8, 1);
    assert_eq!(CircuitState::Open as u8, 2);
    assert_eq!(CircuitState::Closed.to_string(), "closed");
    assert_eq!(CircuitState::HalfOpen.as_str(), "half_open");
    assert_eq!(CircuitState::Open.as_str(), "open");
}
