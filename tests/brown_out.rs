//! Brown-outs on the wire (embedded S3 server): S3 fails a share of requests, not all of them.
//! The consecutive rule leaves opening to chance — a success between failures resets its count
//! — while the failure-rate rule decides on the rate. `cargo test brown` runs these;
//! `--nocapture` prints the figures.
//!
//! The method makes one attempt per call (`max_attempts = 1`, a latency-sensitive read), so a
//! call's outcome is its request's: 60 % of requests failing is 60 % of calls failing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use s3_ops_runtime::client::{configure, ClientOptions};
use s3_ops_runtime::{s3_operation, BreakerConfig, CircuitBreaker, FailureRate, S3Error};
use s3_ops_testkit::{FaultCode, S3Server};

const KEY: &str = "object";

struct Reader {
    client: Client,
    bucket: String,
    download_circuit: CircuitBreaker,
}

impl Reader {
    #[s3_operation(class = "download", op = "head_object", bucket = self.bucket, max_attempts = 1)]
    async fn head(&self) -> Result<(), S3Error> {
        self.client
            .head_object()
            .bucket(&self.bucket)
            .key(KEY)
            .send()
            .await?;
        Ok(())
    }
}

/// The failure-rate rule of these tests: half of the last 20 calls, once 10 are recorded.
const RATE: FailureRate = FailureRate {
    threshold_percent: 50,
    window_calls: 20,
    minimum_calls: 10,
};

async fn server(bucket: &str) -> (S3Server, Client) {
    let server = S3Server::start().await.expect("the embedded server starts");
    server.create_bucket(bucket).await.expect("a bucket");
    let client =
        Client::from_conf(configure(server.config_builder(), &ClientOptions::new()).build());
    client
        .put_object()
        .bucket(bucket)
        .key(KEY)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("the object is stored");
    (server, client)
}

fn reader(client: &Client, bucket: &str, name: &str, breaker: BreakerConfig) -> Reader {
    Reader {
        client: client.clone(),
        bucket: bucket.to_owned(),
        download_circuit: CircuitBreaker::with_config(name.to_owned(), breaker),
    }
}

/// What `calls` sequential calls through `reader` met.
#[derive(Debug, Default)]
struct Seen {
    admitted: u64,
    refused: u64,
    failed: u64,
}

async fn call(reader: &Reader, seen: &mut Seen) {
    match reader.head().await {
        Err(err) if err.is_circuit_open() => seen.refused += 1,
        Err(_) => {
            seen.admitted += 1;
            seen.failed += 1;
        }
        Ok(()) => seen.admitted += 1,
    }
}

#[tokio::test]
async fn brown_out_at_60_percent_opens_the_failure_rate_circuit_and_leaves_the_consecutive_one_to_chance(
) {
    const BUCKET: &str = "brown-out-60";
    let (server, client) = server(BUCKET).await;
    server
        .faults()
        .fail_rate("head_object", FaultCode::ServiceUnavailable, 0.6);
    let open_timeout = Duration::from_millis(100);
    let by_rate = reader(
        &client,
        BUCKET,
        "brown-out-60-rate",
        BreakerConfig {
            failure_rate: Some(RATE),
            open_timeout,
            ..BreakerConfig::default()
        },
    );
    let consecutive = reader(
        &client,
        BUCKET,
        "brown-out-60-consecutive",
        BreakerConfig {
            open_timeout,
            ..BreakerConfig::default()
        },
    );

    // Sustained: the rate rule opens within 40 calls.
    let mut first = Seen::default();
    let mut calls = 0;
    while by_rate.download_circuit.stats().opened == 0 {
        calls += 1;
        assert!(calls <= 40, "not open after 40 calls: {first:?}");
        call(&by_rate, &mut first).await;
    }
    eprintln!("brown-out 60 %: the failure-rate rule opened after {calls} calls ({first:?})");

    // The same brown-out for both rules, call for call, for 1.5 s.
    let (mut rate, mut count) = (Seen::default(), Seen::default());
    let until = tokio::time::Instant::now() + Duration::from_millis(1_500);
    while tokio::time::Instant::now() < until {
        call(&by_rate, &mut rate).await;
        call(&consecutive, &mut count).await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for (name, seen, circuit) in [
        ("failure rate 50 %/20/10", &rate, &by_rate.download_circuit),
        (
            "consecutive (default)",
            &count,
            &consecutive.download_circuit,
        ),
    ] {
        eprintln!(
            "brown-out 60 %, {name}: opened {} times; {} calls refused, {} let through, of which {} failed ({:.0} %)",
            circuit.stats().opened,
            seen.refused,
            seen.admitted,
            seen.failed,
            100.0 * seen.failed as f64 / seen.admitted.max(1) as f64,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brown_out_at_5_percent_never_opens_the_failure_rate_circuit() {
    const BUCKET: &str = "brown-out-5";
    const CALLS: u64 = 10_000;
    const TASKS: u64 = 16;
    let (server, client) = server(BUCKET).await;
    server
        .faults()
        .fail_rate("head_object", FaultCode::ServiceUnavailable, 0.05);
    let reader = Arc::new(reader(
        &client,
        BUCKET,
        "brown-out-5-rate",
        BreakerConfig {
            failure_rate: Some(RATE),
            // Only the rate rule is under test here.
            failure_threshold: u32::MAX,
            ..BreakerConfig::default()
        },
    ));
    let failed = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (reader, failed) = (Arc::clone(&reader), Arc::clone(&failed));
            tokio::spawn(async move {
                for _ in 0..CALLS / TASKS {
                    match reader.head().await {
                        Err(err) if err.is_circuit_open() => panic!("refused: {err}"),
                        Err(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(()) => {}
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("no caller panics");
    }
    let failed = failed.load(Ordering::Relaxed);
    eprintln!("brown-out 5 %: {failed} of {CALLS} calls failed; the rate rule never opened");
    assert!(failed > CALLS / 40, "the faults were injected: {failed}");
    assert_eq!(reader.download_circuit.stats().opened, 0);
}
