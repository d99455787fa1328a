//! With feature `serde`: `BreakerConfig`, `FailureRate` and `RetryPolicy` from TOML and JSON,
//! with the types' field names, humane durations and an `unlimited` budget; missing fields keep
//! their defaults, and bad values are errors that say what is wrong.

use std::time::Duration;

use s3_ops_runtime::retry::Jitter;
use s3_ops_runtime::{BreakerConfig, FailureRate, RetryPolicy};
use serde::Deserialize;

/// A service's settings file, as an application would declare it.
#[derive(Deserialize)]
struct Settings {
    upload_breaker: BreakerConfig,
    upload_retry: RetryPolicy,
    #[serde(default)]
    download_breaker: BreakerConfig,
}

const TOML: &str = r#"
[upload_breaker]
failure_threshold = 3
success_threshold = 1
open_timeout = "30s"
half_open_max_calls = 2
retry_budget = "unlimited"
failure_rate = { threshold_percent = 50, window_calls = 100, minimum_calls = 20 }

[upload_retry]
max_attempts = 5
base_delay = "250ms"
max_delay = "10s"
factor = 3
jitter = "none"
"#;

const RATE: FailureRate = FailureRate {
    threshold_percent: 50,
    window_calls: 100,
    minimum_calls: 20,
};

#[test]
fn settings_load_from_toml() {
    let settings: Settings = toml::from_str(TOML).unwrap();
    assert_eq!(
        settings.upload_breaker,
        BreakerConfig {
            failure_threshold: 3,
            success_threshold: 1,
            open_timeout: Duration::from_secs(30),
            half_open_max_calls: 2,
            retry_budget: None,
            failure_rate: Some(RATE),
        }
    );
    let retry = settings.upload_retry;
    assert_eq!(
        (
            retry.max_attempts,
            retry.base_delay,
            retry.max_delay,
            retry.factor
        ),
        (5, Duration::from_millis(250), Duration::from_secs(10), 3)
    );
    assert!(matches!(retry.jitter, Jitter::None));
    assert_eq!(settings.download_breaker, BreakerConfig::default());
}

#[test]
fn settings_load_from_json() {
    let settings: Settings = serde_json::from_str(
        r#"{
            "upload_breaker": { "open_timeout": "2m", "retry_budget": 40,
                                "failure_rate": { "threshold_percent": 50, "window_calls": 100, "minimum_calls": 20 } },
            "upload_retry": { "max_attempts": 2, "jitter": "equal" },
            "download_breaker": { "retry_budget": null, "failure_rate": null }
        }"#,
    )
    .unwrap();
    assert_eq!(
        settings.upload_breaker,
        BreakerConfig {
            open_timeout: Duration::from_secs(120),
            retry_budget: Some(40),
            failure_rate: Some(RATE),
            ..BreakerConfig::default()
        }
    );
    assert_eq!(settings.upload_retry.max_attempts, 2);
    assert_eq!(
        settings.upload_retry.base_delay,
        RetryPolicy::DEFAULT.base_delay
    );
    assert!(matches!(settings.upload_retry.jitter, Jitter::Equal));
    assert_eq!(settings.download_breaker.retry_budget, None);
}

fn breaker_json(body: &str) -> String {
    serde_json::from_str::<BreakerConfig>(body)
        .expect_err(body)
        .to_string()
}

fn retry_toml(body: &str) -> String {
    toml::from_str::<RetryPolicy>(body)
        .expect_err(body)
        .to_string()
}

#[test]
fn bad_values_are_errors_that_say_what_to_write() {
    for (body, says) in [
        (r#"{"open_timeout": "30"}"#, "no unit: write `30s`"),
        (r#"{"open_timeout": 30}"#, "a duration needs a unit"),
        (r#"{"open_timeout": "-1s"}"#, "negative"),
        (r#"{"open_timeout": "3d"}"#, "unknown unit `d`"),
        (r#"{"retry_budget": "lots"}"#, "or `unlimited`"),
        (r#"{"retry_budget": -5}"#, "negative"),
        (
            r#"{"retry_budget": true}"#,
            "expected a number of tokens, or \"unlimited\"",
        ),
        (
            r#"{"failure_threshold": 0}"#,
            "`failure_threshold` must be at least 1",
        ),
        (r#"{"failure_threshold": -1}"#, "invalid value"),
        (
            r#"{"failure_treshold": 3}"#,
            "unknown field `failure_treshold`",
        ),
        (
            r#"{"failure_rate": {"threshold_percent": 50, "window_calls": 10, "minimum_calls": 20}}"#,
            "`failure_rate.minimum_calls` must be 1 to `window_calls` (10), not 20",
        ),
        (
            r#"{"failure_rate": {"threshold_percent": 50, "window_calls": 10}}"#,
            "missing field `minimum_calls`",
        ),
    ] {
        let err = breaker_json(body);
        assert!(err.contains(says), "{body}: expected {says:?} in {err:?}");
    }
    for (body, says) in [
        ("max_attempts = 0", "`max_attempts` must be 1 to 100, not 0"),
        (
            "max_attempts = 101",
            "`max_attempts` must be 1 to 100, not 101",
        ),
        ("factor = 0", "`factor` must be at least 1"),
        (
            "base_delay = \"1m\"",
            "`base_delay` (1m) is longer than `max_delay` (30s)",
        ),
        ("base_delay = \"1.5s\"", "fraction"),
        ("jitter = \"full\"", "unknown variant `full`"),
    ] {
        let err = retry_toml(body);
        assert!(err.contains(says), "{body}: expected {says:?} in {err:?}");
    }
}

/// The bounds themselves are values a user may write: one attempt, a hundred, a constant
/// backoff (`base_delay` equal to `max_delay`).
#[test]
fn values_at_the_bounds_load() {
    for body in [
        "max_attempts = 1",
        "max_attempts = 100",
        "factor = 1",
        "base_delay = \"30s\"\nmax_delay = \"30s\"",
    ] {
        toml::from_str::<RetryPolicy>(body).unwrap_or_else(|err| panic!("{body}: {err}"));
    }
    let constant: RetryPolicy = toml::from_str("base_delay = \"2s\"\nmax_delay = \"2s\"").unwrap();
    assert_eq!(constant.backoff(3), std::time::Duration::from_secs(2));
}
