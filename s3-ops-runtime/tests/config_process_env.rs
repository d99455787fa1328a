//! `from_env` and `with_env` on the real process environment. A binary of its own with one test:
//! setting variables is process-wide, and no other test here reads them.

use std::time::Duration;

use s3_ops_runtime::{BreakerConfig, RetryPolicy};

#[test]
fn from_env_and_with_env_read_the_process_environment() {
    // Nothing set under the prefix: the defaults.
    let unset = "S3_OPS_PROCESS_ENV_UNSET_";
    assert_eq!(
        BreakerConfig::from_env(unset).unwrap().open_timeout,
        BreakerConfig::default().open_timeout
    );
    let retry = RetryPolicy::from_env(unset).unwrap();
    assert_eq!(
        (retry.max_attempts, retry.base_delay, retry.max_delay),
        (3, Duration::from_secs(1), Duration::from_secs(30))
    );

    let prefix = "S3_OPS_PROCESS_ENV_";
    std::env::set_var(format!("{prefix}OPEN_TIMEOUT"), "7s");
    std::env::set_var(format!("{prefix}BASE_DELAY"), "250ms");
    let breaker = BreakerConfig::from_env(prefix).unwrap();
    assert_eq!(breaker.open_timeout, Duration::from_secs(7));
    let breaker = BreakerConfig {
        failure_threshold: 9,
        ..BreakerConfig::default()
    }
    .with_env(prefix)
    .unwrap();
    assert_eq!(
        (breaker.failure_threshold, breaker.open_timeout),
        (9, Duration::from_secs(7)),
        "the code's default kept, the variable's value taken"
    );
    let retry = RetryPolicy::from_env(prefix).unwrap();
    assert_eq!(retry.base_delay, Duration::from_millis(250));
    let retry = RetryPolicy::NO_RETRY.with_env(prefix).unwrap();
    assert_eq!(
        (retry.max_attempts, retry.base_delay),
        (1, Duration::from_millis(250))
    );

    // A value that is not UTF-8 is reported with its variable, not taken for unset.
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let name = format!("{prefix}MAX_ATTEMPTS");
        std::env::set_var(&name, std::ffi::OsStr::from_bytes(b"3\xff"));
        let err = RetryPolicy::from_env(prefix).unwrap_err();
        assert_eq!(err.setting(), name, "{err}");
    }
}
