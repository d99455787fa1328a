//! What a refusal prints with `{:?}` (the form `tracing`'s `?err` fields and `unwrap` use): the
//! circuit's name and how long until it admits a probe, alone or inside an `S3Error`.

use std::time::Duration;

use s3_ops_runtime::{CircuitBreaker, S3Error};

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
