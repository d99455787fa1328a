//! `BreakerConfig` and `RetryPolicy` from environment variables, read through a lookup function
//! so that no test here touches the process environment (`config_process_env.rs` does, alone in
//! its binary): valid values, and every variable with
//! empty, negative, overflowing, unit-less (or unit-ful) and unknown-unit values, each a
//! `ConfigError` naming the variable and the value, never a panic.

use std::collections::HashMap;
use std::time::Duration;

use proptest::prelude::*;
use s3_ops_runtime::{BreakerConfig, CircuitBreaker, ConfigError, FailureRate, RetryPolicy};

const PREFIX: &str = "S3_OPS_TEST_";

fn vars(pairs: &[(&str, &str)]) -> impl FnMut(&str) -> Option<String> {
    let vars: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (format!("{PREFIX}{k}"), (*v).to_owned()))
        .collect();
    move |name| vars.get(name).cloned()
}

fn breaker(pairs: &[(&str, &str)]) -> Result<BreakerConfig, ConfigError> {
    BreakerConfig::default().with_vars(PREFIX, vars(pairs))
}

fn retry(pairs: &[(&str, &str)]) -> Result<RetryPolicy, ConfigError> {
    RetryPolicy::DEFAULT.with_vars(PREFIX, vars(pairs))
}

#[test]
fn unset_variables_keep_the_defaults() {
    assert_eq!(breaker(&[]).unwrap(), BreakerConfig::default());
    let policy = retry(&[]).unwrap();
    assert_eq!(policy.max_attempts, RetryPolicy::DEFAULT.max_attempts);
    assert_eq!(policy.base_delay, RetryPolicy::DEFAULT.base_delay);
    assert_eq!(policy.max_delay, RetryPolicy::DEFAULT.max_delay);
    // No variable of this prefix exists in the test's environment.
    assert_eq!(
        BreakerConfig::from_env("S3_OPS_NO_SUCH_PREFIX_").unwrap(),
        BreakerConfig::default()
    );
    assert_eq!(
        RetryPolicy::from_env("S3_OPS_NO_SUCH_PREFIX_")
            .unwrap()
            .max_attempts,
        3
    );
}

#[test]
fn every_breaker_variable_is_read() {
    let config = breaker(&[
        ("FAILURE_THRESHOLD", "7"),
        ("SUCCESS_THRESHOLD", "3"),
        ("OPEN_TIMEOUT", "5s"),
        ("HALF_OPEN_MAX_CALLS", "2"),
        ("RETRY_BUDGET", "unlimited"),
        ("FAILURE_RATE", "50%/100/20"),
    ])
    .unwrap();
    assert_eq!(
        config,
        BreakerConfig {
            failure_threshold: 7,
            success_threshold: 3,
            open_timeout: Duration::from_secs(5),
            half_open_max_calls: 2,
            retry_budget: None,
            failure_rate: Some(FailureRate {
                threshold_percent: 50,
                window_calls: 100,
                minimum_calls: 20,
            }),
        }
    );
    assert_eq!(
        breaker(&[("RETRY_BUDGET", "40"), ("OPEN_TIMEOUT", "250ms")])
            .map(|c| (c.retry_budget, c.open_timeout))
            .unwrap(),
        (Some(40), Duration::from_millis(250))
    );
}

#[test]
fn variables_override_defaults_given_in_code_and_off_turns_a_rate_off() {
    let base = BreakerConfig {
        open_timeout: Duration::from_secs(2),
        failure_rate: Some(FailureRate {
            threshold_percent: 50,
            window_calls: 20,
            minimum_calls: 10,
        }),
        ..BreakerConfig::default()
    };
    let kept = base.clone().with_vars(PREFIX, vars(&[])).unwrap();
    assert_eq!(kept, base);
    let changed = base
        .with_vars(
            PREFIX,
            vars(&[("FAILURE_RATE", "off"), ("OPEN_TIMEOUT", "1m")]),
        )
        .unwrap();
    assert_eq!(changed.failure_rate, None);
    assert_eq!(changed.open_timeout, Duration::from_secs(60));
}

#[test]
fn every_retry_variable_is_read() {
    let policy = retry(&[
        ("MAX_ATTEMPTS", "5"),
        ("BASE_DELAY", "250ms"),
        ("MAX_DELAY", "2m"),
    ])
    .unwrap();
    assert_eq!(policy.max_attempts, 5);
    assert_eq!(policy.base_delay, Duration::from_millis(250));
    assert_eq!(policy.max_delay, Duration::from_secs(120));
    let cleanup = RetryPolicy::NO_RETRY
        .with_vars(PREFIX, vars(&[("BASE_DELAY", "1h"), ("MAX_DELAY", "1h")]))
        .unwrap();
    assert_eq!(cleanup.max_attempts, 1, "kept from the policy in code");
    assert_eq!(cleanup.base_delay, Duration::from_secs(3600));
}

/// Asserts `result` is an error about `suffix`'s `value` that says `says`.
fn assert_rejects<T: std::fmt::Debug>(
    result: Result<T, ConfigError>,
    suffix: &str,
    value: &str,
    says: &str,
) {
    let name = format!("{PREFIX}{suffix}");
    let err = result.expect_err(&format!("{name}={value:?} must be refused"));
    assert_eq!(err.setting(), name, "{err}");
    assert_eq!(err.value(), Some(value), "{err}");
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("{name}={value:?}: ")),
        "names the variable and the value: {shown}"
    );
    assert!(
        err.problem().contains(says),
        "{name}={value:?}: expected {says:?} in {shown:?}"
    );
}

const DURATION_CASES: [(&str, &str); 7] = [
    ("", "empty"),
    ("-5s", "negative"),
    ("99999999999999999999s", "too long"),
    ("9999999999999h", "too long"),
    ("5", "no unit: write `5s`"),
    ("5d", "unknown unit `d`"),
    ("1.5s", "fraction"),
];

const COUNT_CASES: [(&str, &str); 6] = [
    ("", "empty"),
    ("-1", "negative"),
    ("4294967296", "too large"),
    ("5s", "not a whole number"),
    ("five", "not a whole number"),
    ("0", "below 1"),
];

#[test]
fn malformed_breaker_values_are_errors_naming_the_variable() {
    for suffix in [
        "FAILURE_THRESHOLD",
        "SUCCESS_THRESHOLD",
        "HALF_OPEN_MAX_CALLS",
    ] {
        for (value, says) in COUNT_CASES {
            assert_rejects(breaker(&[(suffix, value)]), suffix, value, says);
        }
    }
    for (value, says) in DURATION_CASES {
        assert_rejects(
            breaker(&[("OPEN_TIMEOUT", value)]),
            "OPEN_TIMEOUT",
            value,
            says,
        );
    }
    for (value, says) in [
        ("", "empty"),
        ("-1", "negative"),
        ("4294967296", "too large"),
        ("500 tokens", "not a whole number"),
        ("infinite", "or `unlimited`"),
    ] {
        assert_rejects(
            breaker(&[("RETRY_BUDGET", value)]),
            "RETRY_BUDGET",
            value,
            says,
        );
    }
    for (value, says) in [
        ("", "not a failure rate"),
        ("-50%/100/20", "the threshold: cannot be negative"),
        ("50%/4294967296/20", "the window: too large"),
        ("50%/2000000/20", "the window: too large"),
        (
            "50%/100/-1",
            "the minimum (at most the window): cannot be negative",
        ),
        ("50%/10/20", "the minimum (at most the window): too large"),
        ("0%/100/20", "the threshold: below 1"),
        ("50/100/20", "needs a `%`"),
        ("50%/100", "not a failure rate"),
        ("50%/100s/20", "the window: not a whole number"),
        ("half", "not a failure rate"),
    ] {
        assert_rejects(
            breaker(&[("FAILURE_RATE", value)]),
            "FAILURE_RATE",
            value,
            says,
        );
    }
}

#[test]
fn malformed_retry_values_are_errors_naming_the_variable() {
    for (value, says) in [
        ("", "empty"),
        ("-1", "negative"),
        ("4294967296", "too large"),
        ("101", "too large: write a whole number from 1 to 100"),
        ("0", "below 1"),
        ("3x", "not a whole number"),
    ] {
        assert_rejects(
            retry(&[("MAX_ATTEMPTS", value)]),
            "MAX_ATTEMPTS",
            value,
            says,
        );
    }
    for suffix in ["BASE_DELAY", "MAX_DELAY"] {
        for (value, says) in DURATION_CASES {
            assert_rejects(retry(&[(suffix, value)]), suffix, value, says);
        }
    }
}

#[test]
fn a_base_delay_above_the_max_delay_is_an_error() {
    assert_rejects(
        retry(&[("BASE_DELAY", "1m")]),
        "BASE_DELAY",
        "1m",
        "the max delay in code is 30s",
    );
    assert_rejects(
        retry(&[("MAX_DELAY", "500ms")]),
        "MAX_DELAY",
        "500ms",
        "the base delay in code is 1s",
    );
    assert_rejects(
        retry(&[("BASE_DELAY", "10s"), ("MAX_DELAY", "5s")]),
        "BASE_DELAY",
        "10s",
        "S3_OPS_TEST_MAX_DELAY is 5s",
    );
}

#[test]
fn thresholds_in_code_out_of_range_are_an_error_not_a_panic() {
    let err = BreakerConfig {
        failure_threshold: 0,
        ..BreakerConfig::default()
    }
    .with_vars(PREFIX, vars(&[]))
    .unwrap_err();
    assert_eq!(err.value(), None);
    assert!(err.problem().contains("failure_threshold"), "{err}");
}

fn any_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        // Near misses of valid values.
        "[-+ ]?[0-9]{0,25}(ms|s|m|h|d|%|/|\\.5)?[ ]?",
        "[0-9]{1,4}%/[0-9]{1,8}/[0-9]{1,8}",
    ]
}

proptest! {
    /// Whatever a variable holds, reading it answers a valid configuration or an error naming
    /// that variable and its value; never a panic, and never a configuration
    /// `CircuitBreaker::with_config` would refuse.
    #[test]
    fn any_value_of_any_variable_is_a_valid_config_or_a_named_error(
        index in 0usize..9,
        value in any_value(),
    ) {
        let suffix = [
            "FAILURE_THRESHOLD", "SUCCESS_THRESHOLD", "OPEN_TIMEOUT", "HALF_OPEN_MAX_CALLS",
            "RETRY_BUDGET", "FAILURE_RATE", "MAX_ATTEMPTS", "BASE_DELAY", "MAX_DELAY",
        ][index];
        let pairs = [(suffix, value.as_str())];
        let errors = match (breaker(&pairs), retry(&pairs)) {
            (Ok(config), Ok(policy)) => {
                drop(CircuitBreaker::with_config("proptest", config));
                prop_assert!((1..=100).contains(&policy.max_attempts));
                prop_assert!(policy.base_delay <= policy.max_delay);
                vec![]
            }
            (breaker, retry) => [breaker.err(), retry.err()].into_iter().flatten().collect(),
        };
        for err in errors {
            prop_assert_eq!(err.setting(), format!("{PREFIX}{suffix}"));
            prop_assert_eq!(err.value(), Some(value.as_str()));
            prop_assert!(!err.problem().is_empty());
        }
    }
}
