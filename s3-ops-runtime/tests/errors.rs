//! What the errors print, and that they cross threads. That they print no secret (S3's
//! `SignatureDoesNotMatch` body echoes the string to sign, the canonical request and the access
//! key id) is tested over the wire, logs included: `no_secret_reaches_the_logs_or_an_error_message`
//! in the workspace's `tests/bad_input.rs`.

use std::time::Duration;

use s3_ops_runtime::{AttemptTimeout, CircuitBreaker, S3Error, S3ErrorKind};

#[test]
fn errors_print_what_helps() {
    let breaker = CircuitBreaker::new("printing");
    breaker.force_open();
    let open = S3Error::from(breaker.acquire().expect_err("open"));
    let text = format!("{open} {open:?}");
    assert!(text.contains("printing"), "{text}");

    let timeout = S3Error::from(AttemptTimeoutProbe::make(Duration::from_secs(5)));
    assert_eq!(timeout.kind(), S3ErrorKind::AttemptTimeout);
    assert!(timeout.to_string().contains("5s"), "{timeout}");

    let dispatch = S3Error::from_source(S3ErrorKind::Dispatch, "connection refused");
    let text = format!("{dispatch} {dispatch:?}");
    assert!(text.contains("connection refused"), "{text}");
}

/// `AttemptTimeout` has no public constructor; one comes out of an operation whose attempt
/// runs past its limit.
struct AttemptTimeoutProbe;

impl AttemptTimeoutProbe {
    fn make(limit: Duration) -> AttemptTimeout {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let op = s3_ops_runtime::Operation::with_policy(
                s3_ops_runtime::OperationClass::Cleanup,
                "delete_object",
                s3_ops_runtime::retry::RetryPolicy::NO_RETRY,
            )
            .with_timeout(limit);
            #[derive(Debug)]
            struct Timeout(AttemptTimeout);
            impl From<AttemptTimeout> for Timeout {
                fn from(t: AttemptTimeout) -> Self {
                    Timeout(t)
                }
            }
            impl s3_ops_runtime::Classify for Timeout {
                fn classify(&self) -> s3_ops_runtime::ErrorClass {
                    s3_ops_runtime::ErrorClass::Transient
                }
            }
            let Err(Timeout(t)) = op
                .run_without_breaker("b", std::future::pending::<Result<(), Timeout>>)
                .await
            else {
                unreachable!("the attempt never completes")
            };
            assert_eq!(t.limit(), limit);
            t
        })
    }
}

#[test]
fn errors_and_breakers_cross_threads() {
    fn check<T: Send + Sync + 'static>() {}
    check::<S3Error>();
    check::<s3_ops_runtime::CircuitOpen>();
    check::<AttemptTimeout>();
    check::<CircuitBreaker>();
    // `S3Error` is a standard error, so `?` turns it into `Box<dyn Error + Send + Sync>`.
    let boxed: Box<dyn std::error::Error + Send + Sync> = S3Error::service("SlowDown", None).into();
    assert!(boxed.to_string().contains("SlowDown"));
}
