//! The failure-rate rule against a naive reference model (proptest): random sequences of
//! outcomes recorded on a closed circuit, random thresholds and windows. The model keeps the
//! last `window_calls` outcomes in a queue and recounts them after each one. Then what a closed
//! circuit, and a reconfigured one, forgets.

use std::collections::VecDeque;
use std::time::Duration;

use proptest::prelude::*;
use s3_ops_runtime::{BreakerConfig, CircuitBreaker, CircuitState, FailureRate};

/// When, in `outcomes` (`true` a failure), the circuit opens: the index of the outcome that
/// opened it, or `None`.
fn model_opens_at(rate: FailureRate, failure_threshold: u32, outcomes: &[bool]) -> Option<usize> {
    let mut window = VecDeque::new();
    let mut consecutive = 0;
    for (i, &failure) in outcomes.iter().enumerate() {
        window.push_back(failure);
        if window.len() > rate.window_calls as usize {
            window.pop_front();
        }
        consecutive = if failure { consecutive + 1 } else { 0 };
        let failures = window.iter().filter(|f| **f).count() as u64;
        let by_rate = window.len() as u64 >= u64::from(rate.minimum_calls)
            && failures * 100 >= u64::from(rate.threshold_percent) * window.len() as u64;
        if by_rate || consecutive >= failure_threshold {
            return Some(i);
        }
    }
    None
}

fn rate() -> impl Strategy<Value = FailureRate> {
    (1u8..=100, 1u32..=70)
        .prop_flat_map(|(threshold_percent, window_calls)| {
            (
                Just(threshold_percent),
                Just(window_calls),
                1..=window_calls,
            )
        })
        .prop_map(
            |(threshold_percent, window_calls, minimum_calls)| FailureRate {
                threshold_percent,
                window_calls,
                minimum_calls,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn the_window_opens_the_circuit_exactly_when_the_model_does(
        rate in rate(),
        failure_threshold in 1u32..=20,
        // Mostly successes with runs of failures, as a brown-out looks.
        failure_odds in 0.0f64..1.0,
        draws in proptest::collection::vec(0.0f64..1.0, 0..400),
    ) {
        let outcomes: Vec<bool> = draws.iter().map(|d| *d < failure_odds).collect();
        let circuit = CircuitBreaker::with_config("failure-rate-model", BreakerConfig {
            failure_threshold,
            failure_rate: Some(rate),
            open_timeout: Duration::from_secs(3600),
            ..BreakerConfig::default()
        });
        let expected = model_opens_at(rate, failure_threshold, &outcomes);
        let mut opened = None;
        for (i, &failure) in outcomes.iter().enumerate() {
            let permit = circuit.acquire().expect("closed until it opens, then the test stops");
            if failure { permit.failure() } else { permit.success() }
            if circuit.state() == CircuitState::Open {
                opened = Some(i);
                break;
            }
        }
        prop_assert_eq!(opened, expected, "{:?} {:?}", rate, outcomes);
    }

    #[test]
    fn a_rate_below_the_threshold_never_opens(
        window_calls in 10u32..=200,
        draws in proptest::collection::vec(0u32..100, 0..2_000),
    ) {
        // 5 % failures, spread evenly, against a 50 % threshold.
        let rate = FailureRate { threshold_percent: 50, window_calls, minimum_calls: window_calls / 2 };
        let circuit = CircuitBreaker::with_config("failure-rate-low", BreakerConfig {
            failure_threshold: u32::MAX,
            failure_rate: Some(rate),
            ..BreakerConfig::default()
        });
        for (i, _) in draws.iter().enumerate() {
            if i % 20 == 0 { circuit.record_failure() } else { circuit.record_success() }
        }
        prop_assert_eq!(circuit.state(), CircuitState::Closed);
    }
}

/// The window holds the failures of the circuit's current closed period only: once the circuit
/// has opened and closed again, or has been reset, the old failures no longer count.
#[test]
fn a_circuit_closed_again_forgets_the_failures_in_its_window() {
    let rate = FailureRate {
        threshold_percent: 50,
        window_calls: 10,
        minimum_calls: 4,
    };
    let circuit = CircuitBreaker::with_config(
        "failure-rate-forgotten",
        BreakerConfig {
            failure_threshold: u32::MAX,
            failure_rate: Some(rate),
            ..BreakerConfig::default()
        },
    );
    let fail = |n: usize| (0..n).for_each(|_| circuit.record_failure());

    // Three failures of three calls: fewer than `minimum_calls`, still closed.
    fail(3);
    assert_eq!(circuit.state(), CircuitState::Closed);
    // Opened and closed again: one more failure is one of one call, not four of four.
    circuit.force_open();
    circuit.reset();
    fail(1);
    assert_eq!(circuit.state(), CircuitState::Closed);

    // Reset while closed: the same.
    fail(2);
    circuit.reset();
    fail(1);
    assert_eq!(circuit.state(), CircuitState::Closed);
    // The window still works: a fourth failure in a row trips it.
    fail(3);
    assert_eq!(circuit.state(), CircuitState::Open);
}

/// New thresholds keep the failures in the window, unless the window changes size: then it
/// starts afresh.
#[test]
fn reconfiguring_keeps_the_window_unless_its_size_changes() {
    let config = |window_calls| BreakerConfig {
        failure_threshold: u32::MAX,
        failure_rate: Some(FailureRate {
            threshold_percent: 50,
            window_calls,
            minimum_calls: 4,
        }),
        ..BreakerConfig::default()
    };
    let circuit = CircuitBreaker::with_config("failure-rate-reconfigured", config(10));
    let fail = |n: usize| (0..n).for_each(|_| circuit.record_failure());

    // The same size: the three failures stay, and a fourth trips the rule.
    fail(3);
    circuit.reconfigure(config(10));
    fail(1);
    assert_eq!(circuit.state(), CircuitState::Open);

    // Another size: the window starts afresh, and a fourth failure is one of one call.
    circuit.reset();
    fail(3);
    circuit.reconfigure(config(20));
    fail(1);
    assert_eq!(circuit.state(), CircuitState::Closed);
}
