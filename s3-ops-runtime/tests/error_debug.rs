//! What an error prints with `{:?}` (the form `tracing`'s `?err` fields and `unwrap` use), and the
//! cause it hands error reporters through `source()`.

use std::error::Error as StdError;
use std::time::Duration;

use s3_ops_runtime::{CircuitBreaker, CircuitOpen, S3Error, S3ErrorKind};

#[tokio::test(start_paused = true)]
async fn a_refusal_debug_prints_its_circuit_and_delay() {
    let breaker = CircuitBreaker::new("debug-me");
    breaker.force_open();
    tokio::time::advance(Duration::from_secs(15)).await;
    let open = breaker.acquire().expect_err("open");
    assert_eq!(
        format!("{open:?}"),
        r#"CircuitOpen { circuit: "debug-me", retry_after: 45s }"#
    );
    assert_eq!(
        format!("{:?}", S3Error::from(open)),
        r#"S3Error(CircuitOpen { circuit: "debug-me", retry_after: 45s })"#
    );
}

#[test]
fn a_failure_without_an_answer_debug_prints_its_cause() {
    let err = S3Error::from_source(S3ErrorKind::Dispatch, "connection refused");
    assert_eq!(
        format!("{err:?}"),
        r#"S3Error { kind: Dispatch, class: Transient, source: "connection refused" }"#
    );
    // An S3 answer prints its code and status; it has no cause of its own to add.
    let answered = S3Error::service("SlowDown", Some(503));
    assert_eq!(
        format!("{answered:?}"),
        r#"S3Error { kind: Service, class: Transient, code: "SlowDown", status: 503 }"#
    );
}

#[test]
fn the_cause_is_reachable_through_the_source_chain() {
    // What error reporters (`anyhow`, `tracing`'s error fields) walk to print "caused by".
    let err = S3Error::from_source(S3ErrorKind::Dispatch, "connection refused");
    let source = StdError::source(&err).expect("the cause");
    assert_eq!(source.to_string(), "connection refused");

    let breaker = CircuitBreaker::new("source-chain");
    breaker.force_open();
    let open = S3Error::from(breaker.acquire().expect_err("open"));
    let source = StdError::source(&open).expect("the refusal");
    assert!(source.is::<CircuitOpen>(), "{source:?}");
}
