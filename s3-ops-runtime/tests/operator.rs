//! Operator control (`hold_open`, `disable`, `release`), live reconfiguration, and the series
//! dashboards read: `s3_circuit_breaker_override` and `s3_circuit_breaker_transitions_total`.

mod support;

use std::time::Duration;

use s3_ops_runtime::metrics;
use s3_ops_runtime::{
    BreakerConfig, BreakerOverride, CircuitBreaker, CircuitState, FailureRate, Operation,
    OperationClass, S3Error,
};
use support::{exact_policy, samples, secs, value};

fn override_gauge(circuit: &str) -> Option<f64> {
    value(
        &samples(&metrics::render()),
        metrics::CIRCUIT_BREAKER_OVERRIDE,
        &[("circuit_name", circuit)],
    )
}

fn transitions(circuit: &str, from: &str, to: &str) -> Option<f64> {
    value(
        &samples(&metrics::render()),
        metrics::CIRCUIT_BREAKER_TRANSITIONS_TOTAL,
        &[("circuit_name", circuit), ("from", from), ("to", to)],
    )
}

#[tokio::test(start_paused = true)]
async fn held_open_outlasts_the_open_timeout_until_released() {
    const CIRCUIT: &str = "operator-hold-open";
    let circuit = CircuitBreaker::new(CIRCUIT);
    assert_eq!(override_gauge(CIRCUIT), Some(0.0));

    circuit.hold_open();
    assert_eq!(circuit.operator_override(), BreakerOverride::HeldOpen);
    assert_eq!(override_gauge(CIRCUIT), Some(1.0));
    tokio::time::advance(secs(3600)).await;
    assert_eq!(circuit.state(), CircuitState::Open, "no half-open, ever");
    assert!(circuit.acquire().is_err());
    // Outcomes and the ordinary switches do not move it.
    circuit.record_success();
    circuit.reset();
    assert_eq!(circuit.state(), CircuitState::Open);

    circuit.release();
    assert_eq!(circuit.operator_override(), BreakerOverride::None);
    assert_eq!(override_gauge(CIRCUIT), Some(0.0));
    assert_eq!(circuit.state(), CircuitState::Closed);
    assert!(circuit.acquire().is_ok());
    assert_eq!(transitions(CIRCUIT, "closed", "open"), Some(1.0));
    assert_eq!(transitions(CIRCUIT, "open", "closed"), Some(1.0));
}

#[tokio::test(start_paused = true)]
async fn a_disabled_breaker_admits_every_call_and_never_opens() {
    const CIRCUIT: &str = "operator-disabled";
    const OP: &str = "operator_disabled_op";
    let circuit = CircuitBreaker::new(CIRCUIT);
    circuit.force_open();
    circuit.disable();
    assert_eq!(circuit.state(), CircuitState::Closed);
    assert_eq!(override_gauge(CIRCUIT), Some(2.0));

    let op = Operation::with_policy(OperationClass::Upload, OP, exact_policy(1));
    for _ in 0..20 {
        let err = op
            .run(&circuit, "b", || async {
                Err::<(), _>(S3Error::service("InternalError", Some(500)))
            })
            .await
            .unwrap_err();
        assert!(!err.is_circuit_open());
    }
    assert_eq!(circuit.state(), CircuitState::Closed);
    // Outcomes are still counted.
    assert_eq!(
        metrics::operations_total(OP, "b", metrics::OperationResult::Error),
        20
    );

    circuit.release();
    assert_eq!(override_gauge(CIRCUIT), Some(0.0));
    for _ in 0..5 {
        circuit.record_failure();
    }
    assert_eq!(
        circuit.state(),
        CircuitState::Open,
        "the breaker works again"
    );
}

#[tokio::test(start_paused = true)]
async fn every_transition_is_counted_by_its_states() {
    const CIRCUIT: &str = "operator-transitions";
    let circuit = CircuitBreaker::with_config(
        CIRCUIT,
        BreakerConfig {
            open_timeout: secs(1),
            success_threshold: 1,
            ..BreakerConfig::default()
        },
    );
    assert_eq!(transitions(CIRCUIT, "closed", "open"), None, "none yet");
    for _ in 0..2 {
        circuit.force_open();
        tokio::time::advance(secs(1)).await;
        let probe = circuit.acquire().expect("a probe");
        probe.failure();
        tokio::time::advance(secs(1)).await;
        circuit.acquire().expect("a probe").success();
    }
    assert_eq!(transitions(CIRCUIT, "closed", "open"), Some(2.0));
    assert_eq!(transitions(CIRCUIT, "open", "half_open"), Some(4.0));
    assert_eq!(transitions(CIRCUIT, "half_open", "open"), Some(2.0));
    assert_eq!(transitions(CIRCUIT, "half_open", "closed"), Some(2.0));
    let stats = circuit.stats();
    assert_eq!((stats.opened, stats.half_opened, stats.closed), (4, 4, 2));
}

#[tokio::test(start_paused = true)]
async fn reconfigure_applies_from_the_next_outcome_and_keeps_an_open_deadline() {
    let circuit = CircuitBreaker::with_config(
        "operator-reconfigure",
        BreakerConfig {
            open_timeout: secs(60),
            ..BreakerConfig::default()
        },
    );
    for _ in 0..3 {
        circuit.record_failure();
    }
    circuit.reconfigure(BreakerConfig {
        failure_threshold: 4,
        open_timeout: secs(1),
        retry_budget: Some(7),
        ..BreakerConfig::default()
    });
    assert_eq!(circuit.config().failure_threshold, 4);
    assert_eq!(circuit.retry_tokens(), 7);
    circuit.record_failure();
    assert_eq!(
        circuit.state(),
        CircuitState::Open,
        "the fourth failure opens it"
    );
    circuit.reconfigure(BreakerConfig {
        open_timeout: secs(3600),
        ..BreakerConfig::default()
    });
    tokio::time::advance(secs(1)).await;
    assert_eq!(
        circuit.state(),
        CircuitState::HalfOpen,
        "the deadline it was given stands"
    );
}

#[test]
#[should_panic(expected = "`failure_rate.minimum_calls` must be 1 to `window_calls` (10), not 11")]
fn a_failure_rate_that_can_never_be_judged_is_refused() {
    let _ = CircuitBreaker::with_config(
        "operator-bad-rate",
        BreakerConfig {
            failure_rate: Some(FailureRate {
                threshold_percent: 50,
                window_calls: 10,
                minimum_calls: 11,
            }),
            ..BreakerConfig::default()
        },
    );
}

#[test]
fn a_refused_reconfiguration_leaves_the_breaker_as_it_was() {
    let circuit = CircuitBreaker::new("operator-bad-reconfigure");
    let result = std::panic::catch_unwind(|| {
        circuit.reconfigure(BreakerConfig {
            failure_threshold: 0,
            ..BreakerConfig::default()
        })
    });
    assert!(result.is_err());
    assert_eq!(circuit.config(), BreakerConfig::default());
    let _ = Duration::ZERO;
}
