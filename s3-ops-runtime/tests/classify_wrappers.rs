//! Error types other than `S3Error` that an annotated method may return: the SDK's own error
//! (cleanup methods need no `From<CircuitOpen>`), a boxed error, and an error of the user's own
//! that implements only `Classify::classify`. Each must hand the retry loop the server's
//! `Retry-After` and the retry log lines the S3 error code and failure kind, as `S3Error` does.

mod support;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::operation::delete_object::DeleteObjectError;
use aws_sdk_s3::Client;
use aws_smithy_mocks::mock;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::{ConnectorError, SdkError};
use s3_ops_runtime::retry::{Jitter, RetryPolicy};
use s3_ops_runtime::{s3_operation, Classify, ErrorClass, S3Error};
use s3_ops_testkit::mock_client::{raw_response, s3_error_with_headers};
use support::{mock_client, BUCKET};
use tracing::field::{Field, Visit};
use tracing::{span, Event, Metadata, Subscriber};

type DeleteError = SdkError<DeleteObjectError, HttpResponse>;

/// What the server's `x-amz-retry-after` asks for: longer than the policy's first backoff (1 s),
/// so a delay of 5 s can only come from the header.
const SERVER_DELAY: Duration = Duration::from_secs(5);

/// A `SlowDown` answer asking for `SERVER_DELAY`, then a success.
fn client_throttled_once() -> Client {
    let rule = mock!(Client::delete_object)
        .sequence()
        .http_response(|| {
            s3_error_with_headers(
                503,
                "SlowDown",
                &[("x-amz-retry-after", &SERVER_DELAY.as_millis().to_string())],
            )
        })
        .http_response(|| raw_response(204, String::new()))
        .build();
    mock_client(&[&rule]).0
}

/// The SDK's error for one `DeleteObject` answered by `client`.
async fn delete_error(client: &Client) -> DeleteError {
    client
        .delete_object()
        .bucket(BUCKET)
        .key("k")
        .send()
        .await
        .expect_err("an error answer")
}

/// An error type of the user's own that implements only what `Classify` requires.
#[derive(Debug)]
struct OnlyClassified;

impl Classify for OnlyClassified {
    fn classify(&self) -> ErrorClass {
        ErrorClass::Transient
    }
}

struct Service {
    client: Client,
    policy: RetryPolicy,
    first_error: Mutex<Option<OnlyClassified>>,
}

impl Service {
    fn new(client: Client) -> Self {
        Self {
            client,
            // The default backoff (1 s, doubling) without jitter, so delays are exact.
            policy: RetryPolicy {
                max_attempts: 2,
                jitter: Jitter::None,
                ..RetryPolicy::DEFAULT
            },
            first_error: Mutex::new(Some(OnlyClassified)),
        }
    }

    #[s3_operation(class = "cleanup", op = "delete_object", bucket = BUCKET, retry = self.policy)]
    async fn delete_sdk(&self) -> Result<(), DeleteError> {
        self.client
            .delete_object()
            .bucket(BUCKET)
            .key("k")
            .send()
            .await?;
        Ok(())
    }

    #[s3_operation(class = "cleanup", op = "delete_object", bucket = BUCKET, retry = self.policy)]
    async fn delete_boxed(&self) -> Result<(), Box<S3Error>> {
        self.client
            .delete_object()
            .bucket(BUCKET)
            .key("k")
            .send()
            .await
            .map_err(|err| Box::new(S3Error::from(err)))?;
        Ok(())
    }

    #[s3_operation(class = "cleanup", op = "delete_object", bucket = BUCKET, retry = self.policy)]
    async fn delete_own(&self) -> Result<(), OnlyClassified> {
        match self.first_error.lock().unwrap().take() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

/// The retry lines (`s3_ops::retry`, "retrying") of one call, with the time it took.
async fn retry_lines<F: std::future::Future<Output = bool>>(
    call: F,
) -> (Vec<BTreeMap<String, String>>, Duration) {
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let start = tokio::time::Instant::now();
    assert!(call.await, "the second attempt succeeds");
    let elapsed = start.elapsed();
    let lines = recorder
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|fields| {
            fields
                .get("message")
                .is_some_and(|m| m.contains("retrying"))
        })
        .cloned()
        .collect();
    (lines, elapsed)
}

fn field<'a>(line: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    line.get(name).map(String::as_str)
}

#[tokio::test(start_paused = true)]
async fn a_cleanup_method_returning_the_sdk_error_honours_retry_after_and_logs_the_code() {
    let service = Service::new(client_throttled_once());
    let (lines, elapsed) = retry_lines(async { service.delete_sdk().await.is_ok() }).await;
    assert_eq!(
        elapsed, SERVER_DELAY,
        "waited the server's delay, not the 1 s backoff"
    );
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(field(&lines[0], "delay_ms"), Some("5000"), "{lines:#?}");
    assert_eq!(
        field(&lines[0], "error_code"),
        Some("SlowDown"),
        "{lines:#?}"
    );
    assert_eq!(
        field(&lines[0], "error_kind"),
        Some("service"),
        "{lines:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_boxed_error_honours_retry_after_and_logs_the_code_and_kind() {
    let service = Service::new(client_throttled_once());
    let (lines, elapsed) = retry_lines(async { service.delete_boxed().await.is_ok() }).await;
    assert_eq!(
        elapsed, SERVER_DELAY,
        "waited the server's delay, not the 1 s backoff"
    );
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(field(&lines[0], "delay_ms"), Some("5000"), "{lines:#?}");
    assert_eq!(
        field(&lines[0], "error_code"),
        Some("SlowDown"),
        "{lines:#?}"
    );
    assert_eq!(
        field(&lines[0], "error_kind"),
        Some("service"),
        "{lines:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_error_implementing_only_classify_backs_off_by_the_policy_and_logs_no_code() {
    let service = Service::new(mock_client(&[]).0);
    let (lines, elapsed) = retry_lines(async { service.delete_own().await.is_ok() }).await;
    assert_eq!(
        elapsed,
        Duration::from_secs(1),
        "the policy's first backoff"
    );
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(field(&lines[0], "delay_ms"), Some("1000"), "{lines:#?}");
    assert_eq!(field(&lines[0], "error_code"), Some("-"), "{lines:#?}");
    assert_eq!(field(&lines[0], "error_kind"), Some("-"), "{lines:#?}");
}

#[test]
fn the_trait_defaults_claim_nothing() {
    // What a user's error type gets without writing more than `classify`: no server delay, no
    // code, no kind (the retry line says `-` rather than something made up).
    assert_eq!(OnlyClassified.retry_after(), None);
    assert_eq!(OnlyClassified.error_code(), None);
    assert_eq!(OnlyClassified.error_kind(), None);
}

#[tokio::test(start_paused = true)]
async fn the_sdk_error_reads_both_retry_after_headers() {
    for (headers, expected) in [
        (
            &[("x-amz-retry-after", "2500")][..],
            Some(Duration::from_millis(2500)),
        ),
        (&[("retry-after", "7")][..], Some(Duration::from_secs(7))),
        // Milliseconds win over seconds; an unparseable value falls back to the other header.
        (
            &[("x-amz-retry-after", "300"), ("retry-after", "7")][..],
            Some(Duration::from_millis(300)),
        ),
        (
            &[("x-amz-retry-after", "soon"), ("retry-after", "7")][..],
            Some(Duration::from_secs(7)),
        ),
        (&[][..], None),
    ] {
        let headers = headers.to_vec();
        let rule = mock!(Client::delete_object)
            .sequence()
            .http_response(move || s3_error_with_headers(503, "SlowDown", &headers))
            .build();
        let (client, _) = mock_client(&[&rule]);
        let err = delete_error(&client).await;
        assert_eq!(Classify::retry_after(&err), expected, "{err:?}");
        assert_eq!(Classify::error_code(&err), Some("SlowDown"));
        // Boxed, it says the same.
        let boxed: Box<DeleteError> = Box::new(err);
        assert_eq!(boxed.retry_after(), expected);
        assert_eq!(boxed.error_code(), Some("SlowDown"));
        assert_eq!(boxed.error_kind(), Some("service"));
        assert_eq!(boxed.classify(), ErrorClass::Transient);
    }
}

#[test]
fn the_sdk_error_names_every_kind_of_failure() {
    let cases: Vec<(DeleteError, &str, ErrorClass)> = vec![
        (
            SdkError::dispatch_failure(ConnectorError::io("connection reset".into())),
            "dispatch",
            ErrorClass::Transient,
        ),
        (
            SdkError::timeout_error("attempt timed out"),
            "timeout",
            ErrorClass::Transient,
        ),
        (
            SdkError::response_error("body cut short", raw_response(200, String::new())),
            "response",
            ErrorClass::Transient,
        ),
        (
            SdkError::construction_failure("bucket is required"),
            "construction",
            ErrorClass::Local,
        ),
    ];
    for (err, kind, class) in cases {
        assert_eq!(Classify::error_kind(&err), Some(kind));
        assert_eq!(Classify::error_code(&err), None, "{kind}: no S3 error code");
        assert_eq!(
            Classify::retry_after(&err),
            None,
            "{kind}: no answer, no delay"
        );
        assert_eq!(err.classify(), class, "{kind}");
        let boxed: Box<dyn Classify> = Box::new(err);
        assert_eq!(boxed.error_kind(), Some(kind));
        assert_eq!(boxed.classify(), class, "{kind}");
    }
}

/// Keeps every event's fields; spans are not needed here.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<BTreeMap<String, String>>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "s3_ops::retry"
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(fields);
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}
