//! `retry = <expr>`: the policy the attribute's call runs under is the one the expression gives
//! when the call begins, not one fixed at build time; its attempts are clamped to
//! `retry::MAX_ATTEMPTS`, and the breaker still records one outcome per call.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use s3_ops_runtime::retry::{Jitter, RetryPolicy, MAX_ATTEMPTS};
use s3_ops_runtime::{s3_operation, BreakerConfig, CircuitBreaker, S3Error, S3ErrorKind};

struct Service {
    upload_circuit: CircuitBreaker,
    upload_retry: RetryPolicy,
    attempts: AtomicU32,
}

impl Service {
    fn new(max_attempts: u32) -> Self {
        Self {
            upload_circuit: CircuitBreaker::with_config(
                "run-time-policy",
                BreakerConfig {
                    retry_budget: None,
                    ..BreakerConfig::default()
                },
            ),
            upload_retry: policy(max_attempts),
            attempts: AtomicU32::new(0),
        }
    }

    /// Always fails with a transient error, counting its attempts.
    #[s3_operation(class = "upload", op = "put_object", retry = self.upload_retry)]
    async fn put(&self) -> Result<(), S3Error> {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        Err(S3Error::from_source(
            S3ErrorKind::Dispatch,
            "connection refused",
        ))
    }

    /// As `put`, on `&mut self`: the policy is copied, so the body may borrow `self` mutably.
    #[s3_operation(class = "upload", op = "put_object", retry = self.upload_retry)]
    async fn put_mut(&mut self) -> Result<(), S3Error> {
        *self.attempts.get_mut() += 1;
        Err(S3Error::from_source(
            S3ErrorKind::Dispatch,
            "connection refused",
        ))
    }

    fn take_attempts(&self) -> u32 {
        self.attempts.swap(0, Ordering::Relaxed)
    }
}

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(10),
        jitter: Jitter::None,
        ..RetryPolicy::DEFAULT
    }
}

#[tokio::test(start_paused = true)]
async fn the_call_runs_under_the_policy_the_expression_gives_when_it_begins() {
    let mut service = Service::new(2);
    assert!(service.put().await.is_err());
    assert_eq!(service.take_attempts(), 2);

    service.upload_retry = policy(5);
    assert!(service.put().await.is_err());
    assert_eq!(
        service.take_attempts(),
        5,
        "the new policy, without a rebuild"
    );

    service.upload_retry = policy(1);
    assert!(service.put_mut().await.is_err());
    assert_eq!(service.take_attempts(), 1);

    // Three failed calls: the consecutive rule counts calls, not attempts.
    assert_eq!(service.upload_circuit.stats().opened, 0);
}

#[tokio::test(start_paused = true)]
async fn attempts_are_clamped_at_the_cap() {
    for (asked, made) in [
        (0, 1),
        (MAX_ATTEMPTS + 1, MAX_ATTEMPTS),
        (u32::MAX, MAX_ATTEMPTS),
    ] {
        let service = Service::new(asked);
        assert!(service.put().await.is_err());
        assert_eq!(service.take_attempts(), made, "max_attempts = {asked}");
    }
}
