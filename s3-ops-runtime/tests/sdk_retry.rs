//! Retry through `Operation::run` around a real `aws_sdk_s3::Client` answered by
//! `aws-smithy-mocks` response sequences, configured with `client::configure`.
//!
//! Requests are counted twice: by the mock rule (responses served) and by an interceptor
//! (requests the SDK transmitted), so a retry hidden inside the SDK would show.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_smithy_mocks::{mock, Rule};
use s3_ops_runtime::client::{configure, ClientOptions};
use s3_ops_runtime::{
    CircuitBreaker, CircuitState, Classify, ErrorClass, Operation, OperationClass, S3Error,
    S3ErrorKind,
};
use s3_ops_testkit::mock_client::{
    error_xml, put_ok, raw_response, s3_error, s3_error_with_headers,
};
use support::{exact_policy, hanging_client, mock_client, mock_client_with, put, secs, BUCKET};
use tokio::time::Instant;

/// A `PutObject` rule serving `responses` in order.
fn sequence(
    responses: Vec<fn() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> Rule {
    let mut builder = mock!(Client::put_object).sequence();
    for response in responses {
        builder = builder.http_response(response);
    }
    builder.build()
}

fn slow_down() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    s3_error(503, "SlowDown")
}

fn upload(name: &'static str) -> Operation {
    Operation::with_policy(OperationClass::Upload, name, exact_policy(3))
}

/// Runs one `put_object` call through `op`, recording the virtual time of each attempt.
async fn run_put(
    op: &Operation,
    breaker: &CircuitBreaker,
    client: &Client,
    starts: &Mutex<Vec<Instant>>,
) -> Result<(), S3Error> {
    op.run(breaker, BUCKET, || async {
        starts.lock().unwrap().push(Instant::now());
        put(client).await
    })
    .await
}

fn gaps(starts: &Mutex<Vec<Instant>>) -> Vec<Duration> {
    starts
        .lock()
        .unwrap()
        .windows(2)
        .map(|w| w[1] - w[0])
        .collect()
}

#[tokio::test(start_paused = true)]
async fn slow_down_twice_then_ok_makes_three_requests_and_succeeds() {
    let rule = sequence(vec![slow_down, slow_down, put_ok]);
    let (client, sent) = mock_client(&[&rule]);
    let breaker = CircuitBreaker::new("sdk-slowdown");
    let starts = Mutex::new(Vec::new());

    run_put(&upload("put_object"), &breaker, &client, &starts)
        .await
        .expect("the third attempt succeeds");
    assert_eq!(rule.num_calls(), 3);
    assert_eq!(sent.get(), 3);
    assert_eq!(gaps(&starts), [secs(1), secs(2)]);
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn access_denied_makes_one_request() {
    let rule = sequence(vec![|| s3_error(403, "AccessDenied"), put_ok]);
    let (client, sent) = mock_client(&[&rule]);
    let breaker = CircuitBreaker::new("sdk-access-denied");
    let err = run_put(&upload("put_object"), &breaker, &client, &Mutex::default())
        .await
        .expect_err("not retried");
    assert_eq!(err.code(), Some("AccessDenied"));
    assert_eq!(err.status(), Some(403));
    assert_eq!(rule.num_calls(), 1);
    assert_eq!(sent.get(), 1);
}

#[tokio::test(start_paused = true)]
async fn request_timeout_in_an_http_400_is_retried() {
    let rule = sequence(vec![|| s3_error(400, "RequestTimeout"), put_ok]);
    let (client, sent) = mock_client(&[&rule]);
    let breaker = CircuitBreaker::new("sdk-request-timeout");
    run_put(&upload("put_object"), &breaker, &client, &Mutex::default())
        .await
        .expect("retried, then ok");
    assert_eq!(rule.num_calls(), 2);
    assert_eq!(sent.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn internal_error_inside_an_http_200_is_transient_and_retried() {
    let rule = sequence(vec![
        || {
            raw_response(
                200,
                error_xml("InternalError", "We encountered an internal error"),
            )
        },
        put_ok,
    ]);
    let (client, _) = mock_client(&[&rule]);

    // As the SDK reports it, before any retry.
    let err = put(&client).await.expect_err("an error despite the 200");
    assert_eq!(err.code(), Some("InternalError"));
    assert_eq!(err.status(), Some(200));
    assert_eq!(err.classify(), ErrorClass::Transient);
    assert!(put(&client).await.is_ok());

    // And through the retry loop.
    let rule = sequence(vec![
        || raw_response(200, error_xml("InternalError", "try again")),
        put_ok,
    ]);
    let (client, sent) = mock_client(&[&rule]);
    let breaker = CircuitBreaker::new("sdk-200-error");
    run_put(&upload("put_object"), &breaker, &client, &Mutex::default())
        .await
        .expect("retried, then ok");
    assert_eq!(rule.num_calls(), 2);
    assert_eq!(sent.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn no_such_key_makes_one_request_and_never_opens_the_breaker() {
    let rule = mock!(Client::put_object)
        .sequence()
        .http_response(|| s3_error(404, "NoSuchKey"))
        .times(20)
        .build();
    let (client, sent) = mock_client(&[&rule]);
    let breaker = CircuitBreaker::new("sdk-no-such-key");
    let op = upload("put_object");
    for call in 1..=20 {
        let err = run_put(&op, &breaker, &client, &Mutex::default())
            .await
            .expect_err("NoSuchKey");
        assert_eq!(err.code(), Some("NoSuchKey"));
        assert_eq!(rule.num_calls(), call, "one request per call");
    }
    assert_eq!(sent.get(), 20);
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert!(breaker.acquire().is_ok());
}

#[tokio::test(start_paused = true)]
async fn the_x_amz_retry_after_header_is_honoured() {
    // 4.5 s asked for, where the backoff would wait 1 s.
    let rule = sequence(vec![
        || s3_error_with_headers(503, "SlowDown", &[("x-amz-retry-after", "4500")]),
        put_ok,
    ]);
    let (client, _) = mock_client(&[&rule]);
    let breaker = CircuitBreaker::new("sdk-retry-after");
    let starts = Mutex::new(Vec::new());
    run_put(&upload("put_object"), &breaker, &client, &starts)
        .await
        .expect("ok after the hint");
    assert_eq!(gaps(&starts), [Duration::from_millis(4500)]);

    // A hint shorter than the backoff does not shorten it; one past `max_delay` is capped.
    let rule = sequence(vec![
        slow_down,
        || s3_error_with_headers(503, "SlowDown", &[("x-amz-retry-after", "10")]),
        put_ok,
    ]);
    let (client, _) = mock_client(&[&rule]);
    let starts = Mutex::new(Vec::new());
    run_put(&upload("put_object"), &breaker, &client, &starts)
        .await
        .unwrap();
    assert_eq!(gaps(&starts), [secs(1), secs(2)]);

    let rule = sequence(vec![
        || s3_error_with_headers(503, "SlowDown", &[("x-amz-retry-after", "3600000")]),
        put_ok,
    ]);
    let (client, _) = mock_client(&[&rule]);
    let starts = Mutex::new(Vec::new());
    run_put(&upload("put_object"), &breaker, &client, &starts)
        .await
        .unwrap();
    assert_eq!(gaps(&starts), [secs(30)]);
}

#[tokio::test(start_paused = true)]
async fn the_standard_retry_after_header_in_seconds_is_honoured() {
    let rule = sequence(vec![
        || s3_error_with_headers(503, "SlowDown", &[("retry-after", "3")]),
        put_ok,
    ]);
    let (client, _) = mock_client(&[&rule]);
    let breaker = CircuitBreaker::new("sdk-retry-after-secs");
    let starts = Mutex::new(Vec::new());
    run_put(&upload("put_object"), &breaker, &client, &starts)
        .await
        .unwrap();
    assert_eq!(gaps(&starts), [secs(3)]);
}

#[tokio::test(start_paused = true)]
async fn a_configured_client_sends_one_request_per_attempt() {
    let rule = sequence(vec![slow_down, slow_down, slow_down, put_ok]);
    let (client, sent) = mock_client(&[&rule]);
    let err = put(&client).await.expect_err("the SDK must not retry");
    assert_eq!(err.code(), Some("SlowDown"));
    assert_eq!(rule.num_calls(), 1);
    assert_eq!(sent.get(), 1);

    // Through s3-ops: three attempts, three requests, not three times the SDK's three.
    let rule = sequence(vec![slow_down, slow_down, slow_down, put_ok]);
    let (client, sent) = mock_client(&[&rule]);
    let breaker = CircuitBreaker::new("sdk-one-request-per-attempt");
    let err = run_put(&upload("put_object"), &breaker, &client, &Mutex::default())
        .await
        .expect_err("three SlowDowns");
    assert_eq!(err.code(), Some("SlowDown"));
    assert_eq!(sent.get(), 3);
    assert_eq!(rule.num_calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn an_unconfigured_client_retries_on_its_own() {
    // The control for the test above: the counting would see the SDK's retries.
    let rule = sequence(vec![slow_down, slow_down, put_ok]);
    let (client, sent) = mock_client_with(&[&rule], false);
    put(&client)
        .await
        .expect("the SDK's third attempt succeeds");
    assert_eq!(sent.get(), 3);
}

#[tokio::test(start_paused = true)]
async fn the_request_id_and_message_are_kept() {
    let rule = sequence(vec![|| {
        s3_error_with_headers(
            404,
            "NoSuchBucket",
            &[("x-amz-request-id", "4442587FB7D0A2F9")],
        )
    }]);
    let (client, _) = mock_client(&[&rule]);
    let err = put(&client).await.expect_err("NoSuchBucket");
    assert_eq!(err.request_id(), Some("4442587FB7D0A2F9"));
    assert_eq!(err.message(), Some("mocked error"));
    assert_eq!(err.kind(), S3ErrorKind::Service);
    let shown = err.to_string();
    assert!(
        shown.contains("NoSuchBucket")
            && shown.contains("404")
            && shown.contains("4442587FB7D0A2F9"),
        "{shown}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_configured_attempt_timeout_ends_a_hung_attempt_which_is_retried() {
    let options = ClientOptions::new().attempt_timeout(secs(2));
    let (client, sent) = hanging_client(&options);

    let start = Instant::now();
    let err = put(&client).await.expect_err("never answered");
    assert_eq!(err.kind(), S3ErrorKind::Timeout);
    assert_eq!(err.classify(), ErrorClass::Transient);
    assert_eq!(start.elapsed(), secs(2));
    assert_eq!(sent.get(), 1, "the SDK does not retry its own timeout");

    let breaker = CircuitBreaker::new("sdk-hung");
    let starts = Mutex::new(Vec::new());
    let start = Instant::now();
    let err = run_put(&upload("put_object"), &breaker, &client, &starts)
        .await
        .expect_err("every attempt hangs");
    assert_eq!(err.kind(), S3ErrorKind::Timeout);
    assert_eq!(sent.get(), 4);
    // Three 2 s attempts and the 1 s and 2 s backoffs between them.
    assert_eq!(gaps(&starts), [secs(3), secs(4)]);
    assert_eq!(start.elapsed(), secs(9));
}

#[test]
fn client_options_default_to_sdk_retries_off_and_30s_attempts() {
    let config = configure(aws_sdk_s3::Config::builder(), &ClientOptions::default()).build();
    let retry = config.retry_config().expect("a retry config is set");
    assert_eq!(retry.max_attempts(), 1);
    let timeouts = config.timeout_config().expect("a timeout config is set");
    assert_eq!(timeouts.operation_attempt_timeout(), Some(secs(30)));
    assert_eq!(timeouts.connect_timeout(), Some(secs(3)));

    let config = configure(
        aws_sdk_s3::Config::builder(),
        &ClientOptions::new()
            .attempt_timeout(None)
            .checksums_when_required(true),
    )
    .build();
    assert_eq!(
        config
            .timeout_config()
            .and_then(|t| t.operation_attempt_timeout()),
        None
    );
    assert_eq!(
        config.request_checksum_calculation(),
        Some(&aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
    );
}
