//! The original recipe's scenarios over the wire, against the embedded server (they inject faults, so they
//! run there in both modes): what reaches the server is counted by the server itself
//! (`faults().requests`) and by the client (`Wire::sent`), and both must agree.

use std::time::Duration;

use s3_ops_runtime::{BreakerConfig, CircuitState, Classify, ErrorClass, S3Error, S3ErrorKind};
use s3_ops_testkit::FaultCode;

use crate::services::{wait_for_state, wait_until, Objects};
use crate::target::Wire;

/// The original recipe's thresholds with an open timeout that a test can wait for.
fn breaker(open_timeout: Duration) -> BreakerConfig {
    BreakerConfig {
        open_timeout,
        ..BreakerConfig::default()
    }
}

/// Long enough that a refused call never races the circuit half-opening.
const LONG: Duration = Duration::from_secs(60);

fn assert_service_error(err: &S3Error, code: &str, status: u16) {
    assert_eq!(
        (err.kind(), err.code(), err.status()),
        (S3ErrorKind::Service, Some(code), Some(status)),
        "{err}"
    );
}

#[tokio::test]
async fn slow_down_twice_then_ok_reaches_the_server_three_times() {
    Wire::embedded("slow_down_twice_then_ok")
        .await
        .run(|wire| async move {
            let bucket = wire.create_bucket("b").await;
            let objects = Objects::new(wire.client().clone(), &bucket, breaker(LONG));
            let faults = wire.faults();

            faults.fail_next("put_object", FaultCode::SlowDown, 2);
            objects
                .put("k", b"third time")
                .await
                .expect("the third attempt succeeds");
            assert_eq!(faults.requests("put_object"), 3);
            assert_eq!(wire.sent("put_object"), 3);
            assert_eq!(faults.injected().slow_down, 2);
            assert_eq!(
                wire.read_plain(&bucket, "k").await.as_deref(),
                Some(&b"third time"[..])
            );

            // Three failures exhaust the three attempts: no fourth request, the last error
            // comes back as it was.
            faults.fail_next("put_object", FaultCode::SlowDown, 3);
            let err = objects.put("k2", b"never").await.unwrap_err();
            assert_service_error(&err, "SlowDown", 503);
            assert_eq!(faults.requests("put_object"), 6);
            assert_eq!(wire.sent("put_object"), 6);
            assert_eq!(wire.read_plain(&bucket, "k2").await, None);
            // One failed call is one failure on the breaker, not three.
            assert_eq!(objects.upload_circuit().state(), CircuitState::Closed);
        })
        .await;
}

#[tokio::test]
async fn access_denied_and_no_such_key_are_not_retried_and_never_open_the_breaker() {
    Wire::embedded("permanent_errors")
        .await
        .run(|wire| async move {
            let bucket = wire.create_bucket("b").await;
            let objects = Objects::new(wire.client().clone(), &bucket, breaker(LONG));
            let faults = wire.faults();
            wire.put_plain(&bucket, "present", b"data".to_vec()).await;
            // The server counts the set-up's request too.
            faults.reset_counters();

            faults.fail_next("put_object", FaultCode::AccessDenied, 1);
            let err = objects.put("k", b"x").await.unwrap_err();
            assert_service_error(&err, "AccessDenied", 403);
            assert_eq!(faults.requests("put_object"), 1);

            // A real NoSuchKey from the store, then an injected one on a key that exists.
            let err = objects.get("missing").await.unwrap_err();
            assert_service_error(&err, "NoSuchKey", 404);
            assert_eq!(faults.requests("get_object"), 1);
            faults.fail_next("get_object", FaultCode::NoSuchKey, 1);
            let err = objects.get("present").await.unwrap_err();
            assert_service_error(&err, "NoSuchKey", 404);
            assert_eq!(faults.requests("get_object"), 2);
            assert_eq!(wire.sent("get_object"), 2);

            // More refusals than the failure threshold: S3 answered each time, so it is up.
            faults.fail_next("put_object", FaultCode::AccessDenied, 7);
            for _ in 0..7 {
                let err = objects.put("k", b"x").await.unwrap_err();
                assert_eq!(err.classify(), ErrorClass::Client, "{err}");
            }
            assert_eq!(faults.requests("put_object"), 8);
            assert_eq!(wire.sent("put_object"), 8);
            assert_eq!(objects.upload_circuit().state(), CircuitState::Closed);
            assert_eq!(objects.upload_circuit().stats().opened, 0);
            objects.put("k", b"x").await.expect("the circuit is closed");
        })
        .await;
}

#[tokio::test]
async fn request_timeout_is_an_http_400_that_is_retried_and_counts_against_the_breaker() {
    Wire::embedded("request_timeout")
        .await
        .run(|wire| async move {
            let bucket = wire.create_bucket("b").await;
            let faults = wire.faults();
            // One failed call opens this breaker: whether RequestTimeout counts shows at once.
            let objects = Objects::new(
                wire.client().clone(),
                &bucket,
                BreakerConfig {
                    failure_threshold: 1,
                    ..breaker(LONG)
                },
            );

            faults.fail_next("put_object", FaultCode::RequestTimeout, 2);
            objects
                .put("k", b"late")
                .await
                .expect("retried past the 400");
            assert_eq!(faults.requests("put_object"), 3);
            assert_eq!(faults.injected().request_timeout, 2);
            assert_eq!(objects.upload_circuit().state(), CircuitState::Closed);

            faults.fail_next("put_object", FaultCode::RequestTimeout, 3);
            let err = objects.put("k", b"late").await.unwrap_err();
            assert_service_error(&err, "RequestTimeout", 400);
            assert_eq!(faults.requests("put_object"), 6);
            // Unlike the 400s of a bad request, it is S3 failing: the breaker counts it.
            assert_eq!(objects.upload_circuit().state(), CircuitState::Open);
            let refused = objects.put("k", b"late").await.unwrap_err();
            assert!(refused.is_circuit_open(), "{refused}");
            assert_eq!(faults.requests("put_object"), 6);
        })
        .await;
}

#[tokio::test]
async fn an_open_circuit_lets_no_request_reach_the_server() {
    Wire::embedded("open_circuit_no_request")
        .await
        .run(|wire| async move {
            let bucket = wire.create_bucket("b").await;
            let objects = Objects::new(wire.client().clone(), &bucket, breaker(LONG));
            let faults = wire.faults();
            wire.put_plain(&bucket, "present", b"still readable".to_vec())
                .await;
            faults.reset_counters();

            faults.outage();
            for i in 0..5 {
                let err = objects.put(&format!("k{i}"), b"x").await.unwrap_err();
                assert_service_error(&err, "ServiceUnavailable", 503);
            }
            assert_eq!(faults.requests("put_object"), 15, "3 attempts per call");
            assert_eq!(objects.upload_circuit().state(), CircuitState::Open);

            let (received, sent) = (faults.total_requests(), wire.sent_total());
            for i in 0..3 {
                let err = objects.put(&format!("k{i}"), b"x").await.unwrap_err();
                let open = err.circuit_open().expect("refused by the circuit");
                assert_eq!(open.circuit(), format!("{bucket}-upload"));
                assert!(open.retry_after() <= LONG);
            }
            assert_eq!(
                faults.total_requests(),
                received,
                "nothing reached the server"
            );
            assert_eq!(wire.sent_total(), sent, "nothing was sent");

            // Reads have their own breaker, still closed.
            faults.recover();
            assert_eq!(objects.get("present").await.unwrap(), b"still readable");
            assert_eq!(objects.download_circuit().state(), CircuitState::Closed);
            assert!(objects.put("k", b"x").await.unwrap_err().is_circuit_open());
            assert_eq!(faults.requests("put_object"), 15);
        })
        .await;
}

#[tokio::test]
async fn half_open_admits_exactly_one_probe_and_two_successes_close_the_circuit() {
    Wire::embedded("half_open_one_probe")
        .await
        .run(|wire| async move {
            let bucket = wire.create_bucket("b").await;
            let objects = std::sync::Arc::new(Objects::new(
                wire.client().clone(),
                &bucket,
                breaker(Duration::from_millis(200)),
            ));
            let faults = wire.faults().clone();

            faults.outage();
            for i in 0..5 {
                objects.put(&format!("k{i}"), b"x").await.unwrap_err();
            }
            assert_eq!(objects.upload_circuit().stats().opened, 1);
            faults.recover();
            wait_for_state(objects.upload_circuit(), CircuitState::HalfOpen).await;

            // The probe is held at the server, so it is in flight while the others ask.
            let puts = faults.requests("put_object");
            faults.delay("put_object", Duration::from_millis(300));
            let probe = tokio::spawn({
                let objects = objects.clone();
                async move { objects.put("probe", b"probe").await }
            });
            wait_until(
                "the probe at the server",
                || faults.requests("put_object"),
                puts + 1,
            )
            .await;
            let others: Vec<_> = (0..4)
                .map(|i| {
                    let objects = objects.clone();
                    tokio::spawn(async move { objects.put(&format!("other{i}"), b"x").await })
                })
                .collect();
            for other in others {
                let err = other.await.unwrap().unwrap_err();
                assert!(
                    err.is_circuit_open(),
                    "a second probe was let through: {err}"
                );
            }
            assert_eq!(faults.requests("put_object"), puts + 1);
            assert_eq!(wire.sent("put_object"), puts + 1);
            faults.delay("put_object", Duration::ZERO);

            probe.await.unwrap().expect("the probe succeeds");
            // One success of the two needed.
            assert_eq!(objects.upload_circuit().state(), CircuitState::HalfOpen);
            assert_eq!(objects.upload_circuit().stats().closed, 0);
            objects
                .put("probe2", b"probe")
                .await
                .expect("the second probe succeeds");
            assert_eq!(objects.upload_circuit().state(), CircuitState::Closed);
            assert_eq!(objects.upload_circuit().stats().closed, 1);

            // Closed: calls flow again, concurrently.
            let puts = faults.requests("put_object");
            let calls: Vec<_> = (0..4)
                .map(|i| {
                    let objects = objects.clone();
                    tokio::spawn(async move { objects.put(&format!("after{i}"), b"x").await })
                })
                .collect();
            for call in calls {
                call.await.unwrap().expect("closed circuit");
            }
            assert_eq!(faults.requests("put_object"), puts + 4);
        })
        .await;
}

#[tokio::test]
async fn a_failed_probe_reopens_the_circuit() {
    Wire::embedded("failed_probe")
        .await
        .run(|wire| async move {
            let bucket = wire.create_bucket("b").await;
            // Long enough that the refusal after the failed probe cannot race the next
            // half-open, short enough to wait for twice.
            let objects = Objects::new(
                wire.client().clone(),
                &bucket,
                breaker(Duration::from_millis(1000)),
            );
            let faults = wire.faults();

            faults.outage();
            for i in 0..5 {
                objects.put(&format!("k{i}"), b"x").await.unwrap_err();
            }
            wait_for_state(objects.upload_circuit(), CircuitState::HalfOpen).await;

            // Still down: the probe makes its attempts, fails, and the circuit reopens.
            let puts = faults.requests("put_object");
            let err = objects.put("probe", b"x").await.unwrap_err();
            assert_service_error(&err, "ServiceUnavailable", 503);
            assert_eq!(faults.requests("put_object"), puts + 3);
            assert_eq!(objects.upload_circuit().stats().opened, 2);
            assert!(objects.put("k", b"x").await.unwrap_err().is_circuit_open());
            assert_eq!(faults.requests("put_object"), puts + 3);

            faults.recover();
            wait_for_state(objects.upload_circuit(), CircuitState::HalfOpen).await;
            objects.put("probe", b"x").await.unwrap();
            objects.put("probe", b"x").await.unwrap();
            assert_eq!(objects.upload_circuit().state(), CircuitState::Closed);
        })
        .await;
}

#[tokio::test]
async fn a_refused_connection_is_retried_and_five_failed_calls_open_the_breaker() {
    Wire::embedded("connection_refused")
        .await
        .run(|wire| async move {
            // Bound but not listening: connections are refused, and the port stays ours, so no
            // other test's server can appear there.
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
            let endpoint = format!("http://{}", socket.local_addr().unwrap());
            eprintln!("wire test `connection_refused`: the client points at {endpoint}, closed");
            let (client, sent) = wire.client_at(&endpoint);
            let objects = Objects::new(client, "nobody-listens", breaker(LONG));

            for call in 1..=5 {
                let err = objects.put("k", b"x").await.unwrap_err();
                assert_eq!(err.kind(), S3ErrorKind::Dispatch, "{err}");
                assert_eq!(err.classify(), ErrorClass::Transient, "{err}");
                assert_eq!(sent.count("put_object"), 3 * call, "3 attempts per call");
            }
            assert_eq!(objects.upload_circuit().state(), CircuitState::Open);
            assert!(objects.put("k", b"x").await.unwrap_err().is_circuit_open());
            assert_eq!(sent.total(), 15);
            drop(socket);
        })
        .await;
}
