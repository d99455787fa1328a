//! The documented classification table (the attribute's "What one call does"): error code first, then HTTP status;
//! checked through `classify_s3`, `S3Error::service`, real SDK errors from mocked answers, and
//! failures that never got an answer.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};

// `client::configure` (feature `aws-sdk-s3`) for the missing-credentials test.
#[cfg(feature = "aws-sdk-s3")]
use aws_credential_types::provider::error::CredentialsError;
#[cfg(feature = "aws-sdk-s3")]
use aws_credential_types::provider::{future, ProvideCredentials};
use aws_sdk_s3::operation::put_object::PutObjectError;
use aws_sdk_s3::Client;
use aws_smithy_mocks::{mock, MockResponse};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::{ConnectorError, SdkError};
use aws_smithy_types::retry::ErrorKind;
use s3_ops_runtime::classify::{CLIENT_CODES, RETRYABLE_CODES, RETRYABLE_STATUSES};
#[cfg(feature = "aws-sdk-s3")]
use s3_ops_runtime::client::{configure, ClientOptions};
use s3_ops_runtime::{
    classify_s3, BreakerVerdict, CircuitBreaker, CircuitState, Classify, ErrorClass, Operation,
    OperationClass, S3Error, S3ErrorKind,
};
use s3_ops_testkit::mock_client::{raw_response, s3_error};
use support::{exact_policy, mock_client_match_any};

use ErrorClass::{Client as ClientError, Local, Permanent, Transient};

/// The documented retryable codes, each with the status S3 sends it with.
const DOCUMENTED_RETRYABLE: &[(&str, u16)] = &[
    ("SlowDown", 503),
    ("ServiceUnavailable", 503),
    ("InternalError", 500),
    ("RequestTimeout", 400),
    ("ThrottlingException", 400),
    ("RequestThrottled", 400),
    ("TooManyRequestsException", 429),
    ("ProvisionedThroughputExceededException", 400),
];

/// The documented client codes, each with the status S3 sends it with.
const DOCUMENTED_CLIENT: &[(&str, u16)] = &[
    ("NoSuchKey", 404),
    ("NoSuchBucket", 404),
    ("AccessDenied", 403),
    ("InvalidRequest", 400),
    ("InvalidArgument", 400),
    ("MalformedXML", 400),
    ("InvalidBucketName", 400),
];

/// `(code, status, class)`: the whole table, including codes S3 does not know and answers
/// without a code, where the status decides.
fn table() -> Vec<(Option<&'static str>, u16, ErrorClass)> {
    let mut rows = Vec::new();
    for (code, status) in DOCUMENTED_RETRYABLE {
        rows.push((Some(*code), *status, Transient));
    }
    for (code, status) in DOCUMENTED_CLIENT {
        rows.push((Some(*code), *status, ClientError));
    }
    for status in [408, 429, 500, 502, 503, 504] {
        rows.push((None, status, Transient));
        rows.push((Some("SomeUnknownCode"), status, Transient));
    }
    // Other 4xx are the request's fault.
    for status in [400, 401, 403, 404, 405, 409, 411, 412, 416, 451] {
        rows.push((None, status, ClientError));
        rows.push((Some("SomeUnknownCode"), status, ClientError));
    }
    // The code decides before the status.
    rows.push((Some("SlowDown"), 400, Transient));
    rows.push((Some("InternalError"), 200, Transient));
    rows.push((Some("RequestTimeout"), 400, Transient));
    rows.push((Some("NoSuchKey"), 503, ClientError));
    rows.push((Some("AccessDenied"), 500, ClientError));
    // A 5xx S3 does not document as transient is not retried, and counts against the breaker.
    rows.push((None, 501, Permanent));
    rows.push((Some("NotImplemented"), 501, Permanent));
    rows
}

#[test]
fn classify_s3_follows_the_table() {
    for (code, status, class) in table() {
        assert_eq!(
            classify_s3(code, Some(status)),
            class,
            "code {code:?}, status {status}"
        );
    }
    // Without a status, only the code can tell.
    assert_eq!(classify_s3(Some("SlowDown"), None), Transient);
    assert_eq!(classify_s3(Some("NoSuchKey"), None), ClientError);
    assert_eq!(classify_s3(Some("SomeUnknownCode"), None), Permanent);
    assert_eq!(classify_s3(None, None), Permanent);
}

#[test]
fn the_public_lists_hold_the_design_codes_and_statuses() {
    for (code, _) in DOCUMENTED_RETRYABLE {
        assert!(RETRYABLE_CODES.contains(code), "{code}");
        assert!(!CLIENT_CODES.contains(code), "{code}");
    }
    for (code, _) in DOCUMENTED_CLIENT {
        assert!(CLIENT_CODES.contains(code), "{code}");
    }
    assert_eq!(RETRYABLE_STATUSES, &[408, 429, 500, 502, 503, 504]);
    // Every listed code classifies as its list says, whatever the status.
    for code in RETRYABLE_CODES {
        assert_eq!(classify_s3(Some(code), Some(404)), Transient, "{code}");
    }
    for code in CLIENT_CODES {
        assert_eq!(classify_s3(Some(code), Some(503)), ClientError, "{code}");
    }
}

#[test]
fn s3_error_service_is_classified_like_the_table() {
    for (code, status, class) in table() {
        let Some(code) = code else { continue };
        let err = S3Error::service(code, Some(status));
        assert_eq!(err.classify(), class, "{code} {status}");
        assert_eq!(err.code(), Some(code));
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.kind(), S3ErrorKind::Service);
        assert!(!err.is_circuit_open());
        assert_eq!(err.classify().is_retryable(), class == Transient);
    }
}

/// Serves, for each `PutObject`, the answer its key describes: `"<status>"` or
/// `"<status>/<code>"`.
fn client_answering_by_key() -> Client {
    let rule = mock!(Client::put_object).then_compute_response(|input| {
        let key = input.key().expect("a key");
        let (status, code) = match key.split_once('/') {
            Some((status, code)) => (status, Some(code)),
            None => (key, None),
        };
        let status: u16 = status.parse().expect("a status");
        MockResponse::Http(match code {
            Some(code) => s3_error(status, code),
            None => raw_response(status, String::new()),
        })
    });
    let (client, _) = mock_client_match_any(&[&rule]);
    client
}

#[tokio::test(start_paused = true)]
async fn real_sdk_service_errors_follow_the_table() {
    let client = client_answering_by_key();
    for (code, status, class) in table() {
        let key = match code {
            Some(code) => format!("{status}/{code}"),
            None => status.to_string(),
        };
        let err: SdkError<PutObjectError, HttpResponse> = client
            .put_object()
            .bucket(support::BUCKET)
            .key(&key)
            .send()
            .await
            .expect_err("an error answer");
        assert!(
            matches!(err, SdkError::ServiceError(_)),
            "{key}: not a service error: {err:?}"
        );
        // The SDK's error, as a cleanup method returning it directly is classified ...
        assert_eq!(err.classify(), class, "SdkError {key}");
        // Without a code in the body the SDK may make one up from the status (`NotFound`).
        if code.is_some() {
            assert_eq!(Classify::error_code(&err), code, "{key}");
        }
        // ... and as `?` converts it into an `S3Error`.
        let err = S3Error::from(err);
        assert_eq!(err.classify(), class, "S3Error {key}");
        if code.is_some() {
            assert_eq!(err.code(), code, "{key}");
        }
        assert_eq!(err.status(), Some(status), "{key}");
        assert_eq!(err.kind(), S3ErrorKind::Service);
    }
}

fn sdk_error(err: SdkError<PutObjectError, HttpResponse>) -> (ErrorClass, S3Error) {
    let class = err.classify();
    (class, S3Error::from(err))
}

#[test]
fn failures_without_an_answer_are_classified_by_kind() {
    let cases: Vec<(
        &str,
        SdkError<PutObjectError, HttpResponse>,
        ErrorClass,
        S3ErrorKind,
    )> = vec![
        (
            "connection reset",
            SdkError::dispatch_failure(ConnectorError::io("connection reset by peer".into())),
            Transient,
            S3ErrorKind::Dispatch,
        ),
        (
            "connect timeout",
            SdkError::dispatch_failure(ConnectorError::timeout("connect timed out".into())),
            Transient,
            S3ErrorKind::Dispatch,
        ),
        (
            "transient other",
            SdkError::dispatch_failure(ConnectorError::other(
                "pool closed".into(),
                Some(ErrorKind::TransientError),
            )),
            Transient,
            S3ErrorKind::Dispatch,
        ),
        (
            "no credentials",
            SdkError::dispatch_failure(ConnectorError::other(
                "no credentials in the environment".into(),
                None,
            )),
            Local,
            S3ErrorKind::Dispatch,
        ),
        (
            "sdk timeout",
            SdkError::timeout_error("operation attempt timed out"),
            Transient,
            S3ErrorKind::Timeout,
        ),
        (
            "construction",
            SdkError::construction_failure("bucket is required"),
            Local,
            S3ErrorKind::Construction,
        ),
        (
            "response",
            SdkError::response_error(
                "body cut short",
                raw_response(200, "<PutObjectResult".to_owned()),
            ),
            Transient,
            S3ErrorKind::Response,
        ),
    ];
    for (name, err, class, kind) in cases {
        let (sdk_class, err) = sdk_error(err);
        assert_eq!(sdk_class, class, "SdkError: {name}");
        assert_eq!(err.classify(), class, "S3Error: {name}");
        assert_eq!(err.kind(), kind, "{name}");
        assert_eq!(err.code(), None, "{name}");
    }
}

#[test]
fn s3_error_from_source_is_classified_by_kind() {
    for (kind, class) in [
        (S3ErrorKind::Dispatch, Transient),
        (S3ErrorKind::Timeout, Transient),
        (S3ErrorKind::Response, Transient),
        (S3ErrorKind::Construction, Local),
    ] {
        let err = S3Error::from_source(kind, "boom");
        assert_eq!((err.kind(), err.classify()), (kind, class));
        assert!(err.to_string().contains("boom"), "{err}");
    }
}

/// Credentials that cannot be loaded, as on a host without any.
#[cfg(feature = "aws-sdk-s3")]
#[derive(Debug)]
struct NoCredentials;

#[cfg(feature = "aws-sdk-s3")]
impl ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(
            "no credentials in the environment",
        )))
    }
}

#[cfg(feature = "aws-sdk-s3")]
#[tokio::test(start_paused = true)]
async fn missing_credentials_are_local_not_retried_and_spare_the_breaker() {
    let config = aws_sdk_s3::Config::builder()
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(NoCredentials)
        .http_client(aws_smithy_mocks::create_mock_http_client());
    let client = Client::from_conf(configure(config, &ClientOptions::new()).build());

    let err = support::put(&client).await.expect_err("no credentials");
    assert_eq!(err.classify(), Local);
    assert_eq!(err.kind(), S3ErrorKind::Dispatch);

    let breaker = CircuitBreaker::new("no-credentials");
    let op = Operation::with_policy(OperationClass::Upload, "put_object", exact_policy(3));
    let attempts = AtomicU32::new(0);
    for _ in 0..10 {
        let err = op
            .run(&breaker, support::BUCKET, || {
                attempts.fetch_add(1, Ordering::SeqCst);
                support::put(&client)
            })
            .await
            .expect_err("no credentials");
        assert_eq!(err.classify(), Local);
    }
    assert_eq!(attempts.load(Ordering::SeqCst), 10, "never retried");
    assert_eq!(breaker.state(), CircuitState::Closed);
}

#[test]
fn the_breaker_outcome_of_each_class() {
    assert_eq!(Transient.breaker_outcome(), BreakerVerdict::Failure);
    assert_eq!(Permanent.breaker_outcome(), BreakerVerdict::Failure);
    assert_eq!(ClientError.breaker_outcome(), BreakerVerdict::Success);
    assert_eq!(Local.breaker_outcome(), BreakerVerdict::Nothing);
    assert_eq!(
        ErrorClass::CircuitOpen.breaker_outcome(),
        BreakerVerdict::Nothing
    );

    assert!(Transient.is_retryable());
    for class in [Permanent, ClientError, Local, ErrorClass::CircuitOpen] {
        assert!(!class.is_retryable(), "{class:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn client_errors_never_open_the_breaker() {
    let op = Operation::with_policy(OperationClass::Download, "get_object", exact_policy(3));
    for (code, status) in [
        ("NoSuchKey", 404),
        ("AccessDenied", 403),
        ("InvalidArgument", 400),
        ("SomeUnknownCode", 409),
    ] {
        let breaker = CircuitBreaker::new("client-errors");
        let attempts = AtomicU32::new(0);
        for _ in 0..100 {
            let err = op
                .run(&breaker, "b", || async {
                    attempts.fetch_add(1, Ordering::SeqCst);
                    Err::<(), _>(S3Error::service(code, Some(status)))
                })
                .await
                .expect_err("a client error");
            assert_eq!(err.code(), Some(code));
        }
        assert_eq!(
            attempts.load(Ordering::SeqCst),
            100,
            "{code} is not retried"
        );
        assert_eq!(breaker.state(), CircuitState::Closed, "{code}");
        assert_eq!(breaker.stats().opened, 0, "{code}");
    }
}

#[tokio::test(start_paused = true)]
async fn server_errors_do_open_the_breaker() {
    // The control for the test above: the same calls with a 5xx open it.
    let op = Operation::with_policy(OperationClass::Download, "get_object", exact_policy(1));
    for (code, status) in [("InternalError", 500), ("NotImplemented", 501)] {
        let breaker = CircuitBreaker::new("server-errors");
        for _ in 0..5 {
            let _ = op
                .run(&breaker, "b", || async {
                    Err::<(), _>(S3Error::service(code, Some(status)))
                })
                .await;
        }
        assert_eq!(breaker.state(), CircuitState::Open, "{code}");
    }
}

#[test]
fn request_time_too_skewed_is_retried_once_the_sdk_has_corrected_its_clock() {
    assert_eq!(
        classify_s3(Some("RequestTimeTooSkewed"), Some(403)),
        Transient
    );
    assert!(!CLIENT_CODES.contains(&"RequestTimeTooSkewed"));
}

#[test]
fn a_kind_less_failure_on_a_connection_is_transient() {
    use aws_smithy_runtime_api::client::connection::ConnectionMetadata;
    let on_a_connection = ConnectorError::other("HTTP/2 protocol error".into(), None)
        .with_connection(
            ConnectionMetadata::builder()
                .proxied(false)
                .poison_fn(|| {})
                .build(),
        );
    let (class, err) = sdk_error(SdkError::dispatch_failure(on_a_connection));
    assert_eq!((class, err.classify()), (Transient, Transient));
    assert_eq!(err.kind(), S3ErrorKind::Dispatch);
    // The control: the same failure raised before any connection (no credentials, say).
    let before_sending = ConnectorError::other("no credentials".into(), None);
    let (class, _) = sdk_error(SdkError::dispatch_failure(before_sending));
    assert_eq!(class, Local);
}
