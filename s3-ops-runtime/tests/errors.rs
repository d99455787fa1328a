//! Error hygiene: what `S3Error` prints. S3's `SignatureDoesNotMatch` body echoes the
//! string-to-sign, the canonical request (with a presigned URL's signature) and the access key
//! id; none of it may reach a log line through `Display` or `Debug`.

mod support;

use std::error::Error as _;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_smithy_mocks::mock;
use s3_ops_runtime::{AttemptTimeout, CircuitBreaker, S3Error, S3ErrorKind};
use support::{mock_client, put, raw_response};

const ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const SIGNATURE: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
const STRING_TO_SIGN: &str =
    "AWS4-HMAC-SHA256\n20240101T000000Z\n20240101/us-east-1/s3/aws4_request\n9e0f";

/// The secrets that must not be printed.
const SECRETS: [&str; 7] = [
    ACCESS_KEY_ID,
    SIGNATURE,
    "StringToSign",
    "AWSAccessKeyId",
    "CanonicalRequest",
    "X-Amz-Signature",
    "aws4_request",
];

fn signature_does_not_match() -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\
         <Code>SignatureDoesNotMatch</Code>\
         <Message>The request signature we calculated does not match the signature you provided. \
         Check your key and signing method.</Message>\
         <AWSAccessKeyId>{ACCESS_KEY_ID}</AWSAccessKeyId>\
         <StringToSign>{STRING_TO_SIGN}</StringToSign>\
         <SignatureProvided>{SIGNATURE}</SignatureProvided>\
         <StringToSignBytes>41 57 53 34</StringToSignBytes>\
         <CanonicalRequest>GET\n/mock-bucket/result.md\nX-Amz-Algorithm=AWS4-HMAC-SHA256&amp;\
         X-Amz-Credential={ACCESS_KEY_ID}%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&amp;\
         X-Amz-Signature={SIGNATURE}\nhost:s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD\
         </CanonicalRequest>\
         <RequestId>4442587FB7D0A2F9</RequestId><HostId>host-id</HostId></Error>"
    )
}

fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} prints `{secret}`:\n{text}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_signature_error_prints_neither_the_string_to_sign_nor_the_key_id() {
    let rule = mock!(Client::put_object)
        .sequence()
        .http_response(|| raw_response(403, signature_does_not_match()))
        .build();
    let (client, _) = mock_client(&[&rule]);
    let err = put(&client).await.expect_err("SignatureDoesNotMatch");
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"));
    assert_eq!(err.status(), Some(403));
    assert_eq!(err.kind(), S3ErrorKind::Service);

    let display = format!("{err}");
    assert!(display.contains("SignatureDoesNotMatch"), "{display}");
    assert!(display.contains("403"), "{display}");
    assert_clean("Display", &display);
    assert_clean("Debug", &format!("{err:?}"));
    assert_clean("pretty Debug", &format!("{err:#?}"));

    // What `anyhow`'s `{:#}` or a tracing error chain would print.
    let mut chain = String::new();
    let mut next = err.source();
    while let Some(source) = next {
        chain.push_str(&format!("{source}\n"));
        next = source.source();
    }
    assert_clean("the source chain", &chain);
}

#[test]
fn other_errors_print_what_helps() {
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
                Some(limit),
            );
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
