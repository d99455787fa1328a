//! `retry::budget::set_cleanup_budget`: the budget shared by calls without a breaker decides
//! whether a failed cleanup is retried. One test in its own binary: the budget is process-wide.

use std::sync::atomic::{AtomicU32, Ordering};

use s3_ops_runtime::retry::budget::set_cleanup_budget;
use s3_ops_runtime::retry::{Jitter, RetryPolicy};
use s3_ops_runtime::{Operation, OperationClass, S3Error, S3ErrorKind};

/// The attempts one cleanup call makes when every attempt fails with a dropped connection.
async fn attempts_of_a_failing_cleanup() -> u32 {
    let policy = RetryPolicy {
        max_attempts: 3,
        jitter: Jitter::None,
        ..RetryPolicy::DEFAULT
    };
    let op = Operation::with_policy(OperationClass::Cleanup, "delete_object", policy);
    let attempts = AtomicU32::new(0);
    let result: Result<(), S3Error> = op
        .run_without_breaker("cleanup-bucket", || async {
            attempts.fetch_add(1, Ordering::SeqCst);
            Err(S3Error::from_source(
                S3ErrorKind::Dispatch,
                "connection reset",
            ))
        })
        .await;
    assert!(result.is_err());
    attempts.load(Ordering::SeqCst)
}

#[tokio::test(start_paused = true)]
async fn the_cleanup_budget_decides_whether_cleanup_retries() {
    set_cleanup_budget(Some(0));
    assert_eq!(
        attempts_of_a_failing_cleanup().await,
        1,
        "no tokens: no retry"
    );
    set_cleanup_budget(None);
    assert_eq!(
        attempts_of_a_failing_cleanup().await,
        3,
        "unlimited: every retry"
    );
}
