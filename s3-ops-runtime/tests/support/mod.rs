//! Helpers shared by the integration tests: an `aws_sdk_s3::Client` on `aws-smithy-mocks`
//! configured with `client::configure`, S3 answers as raw HTTP, and exact retry policies.

// Each test binary includes this module and uses a different part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use aws_smithy_mocks::{create_mock_http_client, MockResponseInterceptor, Rule, RuleMode};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
#[cfg(feature = "aws-sdk-s3")]
use s3_ops_runtime::client::{configure, ClientOptions};
use s3_ops_runtime::retry::{Jitter, RetryPolicy};
use s3_ops_runtime::S3Error;

/// The bucket every mocked request names.
pub(crate) const BUCKET: &str = "mock-bucket";

/// Counts the HTTP requests the SDK really transmits (one per SDK attempt), independently of
/// how the mock rules count the responses they hand out.
#[derive(Clone, Debug, Default)]
pub(crate) struct RequestCounter(Arc<AtomicUsize>);

impl RequestCounter {
    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A client answered by `rules` in order, set up by `client::configure` (SDK retries off), as
/// an s3-ops user builds it. Built by hand: the aws-sdk-s3 `test-util` feature is not enabled.
pub(crate) fn mock_client(rules: &[&Rule]) -> (Client, RequestCounter) {
    mock_client_with(rules, true)
}

/// Like [`mock_client`]; `configured = false` leaves the SDK's own (standard, 3 attempts)
/// retries on, to show what `client::configure` changes.
pub(crate) fn mock_client_with(rules: &[&Rule], configured: bool) -> (Client, RequestCounter) {
    mock_client_in(RuleMode::Sequential, rules, configured)
}

/// A configured client answered by whichever of `rules` matches first, each as often as it
/// can (for `then_compute_response` rules that answer every request).
pub(crate) fn mock_client_match_any(rules: &[&Rule]) -> (Client, RequestCounter) {
    mock_client_in(RuleMode::MatchAny, rules, true)
}

fn mock_client_in(mode: RuleMode, rules: &[&Rule], configured: bool) -> (Client, RequestCounter) {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(mode);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    let counter = RequestCounter::default();
    let builder = base_config(create_mock_http_client(), &counter).interceptor(interceptor);
    let builder = if configured {
        without_sdk_retries(builder)
    } else {
        builder
    };
    (Client::from_conf(builder.build()), counter)
}

/// `client::configure` with its defaults: the SDK's own retries off, one request per attempt.
#[cfg(feature = "aws-sdk-s3")]
fn without_sdk_retries(builder: aws_sdk_s3::config::Builder) -> aws_sdk_s3::config::Builder {
    configure(builder, &ClientOptions::new())
}

/// Without feature `aws-sdk-s3` there is no `client::configure`: the SDK's retries are turned
/// off by hand, as a user of the crate without the feature does, so that these tests also run
/// against the crate built without features.
#[cfg(not(feature = "aws-sdk-s3"))]
fn without_sdk_retries(builder: aws_sdk_s3::config::Builder) -> aws_sdk_s3::config::Builder {
    builder.retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
}

/// A client, configured with `options`, whose requests are never answered: only a timeout
/// ends them.
#[cfg(feature = "aws-sdk-s3")]
pub(crate) fn hanging_client(options: &ClientOptions) -> (Client, RequestCounter) {
    use aws_smithy_runtime_api::client::http::{
        http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::HttpRequest;

    #[derive(Debug)]
    struct Hang;
    impl HttpConnector for Hang {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            HttpConnectorFuture::new(std::future::pending())
        }
    }
    let counter = RequestCounter::default();
    let http = http_client_fn(|_, _| SharedHttpConnector::new(Hang));
    let builder = configure(base_config(http, &counter), options);
    (Client::from_conf(builder.build()), counter)
}

fn base_config(http: SharedHttpClient, counter: &RequestCounter) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::Config::builder()
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDMOCKTESTONLY",
            "mock-secret",
            None,
            None,
            "s3-ops-runtime-tests",
        ))
        .http_client(http)
        .interceptor(counter.clone())
}

/// S3's XML error body.
pub(crate) fn error_body(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>{message}</Message><RequestId>REQ123</RequestId>\
         <HostId>host-id</HostId></Error>"
    )
}

/// An S3 error answer: `code` in the XML body, with `status`.
pub(crate) fn s3_error(status: u16, code: &str) -> HttpResponse {
    raw_response(status, error_body(code, "mocked error"))
}

/// An S3 error answer carrying extra headers (`x-amz-retry-after`, `x-amz-request-id`).
pub(crate) fn s3_error_with_headers(
    status: u16,
    code: &str,
    headers: &[(&'static str, &str)],
) -> HttpResponse {
    let mut response = s3_error(status, code);
    for (name, value) in headers {
        response.headers_mut().insert(*name, (*value).to_owned());
    }
    response
}

/// An answer with the given status and body.
pub(crate) fn raw_response(status: u16, body: String) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).expect("a valid status"),
        SdkBody::from(body),
    )
}

/// A successful `PutObject` answer.
pub(crate) fn put_ok() -> HttpResponse {
    let mut response = HttpResponse::new(
        StatusCode::try_from(200).expect("a valid status"),
        SdkBody::empty(),
    );
    response
        .headers_mut()
        .insert("etag", "\"d41d8cd98f00b204e9800998ecf8427e\"");
    response
}

/// One `PutObject` through `client`, its SDK error converted as an annotated method's `?` does.
pub(crate) async fn put(client: &Client) -> Result<(), S3Error> {
    client
        .put_object()
        .bucket(BUCKET)
        .key("result.md")
        .body(ByteStream::from_static(b"# result"))
        .send()
        .await?;
    Ok(())
}

/// The original recipe's backoff (1 s doubling up to 30 s) without jitter, so delays can be asserted
/// exactly.
pub(crate) fn exact_policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        jitter: Jitter::None,
        ..RetryPolicy::DEFAULT
    }
}

/// Seconds as a `Duration`, for readable assertions.
pub(crate) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// One sample of the text exposition: `name{labels} value`.
#[derive(Debug)]
pub(crate) struct Sample {
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) value: f64,
}

/// Parses the text exposition (the label values used here contain no `,`, `"` or `\`).
pub(crate) fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').expect("closing brace");
                    let labels = body
                        .split(',')
                        .filter(|pair| !pair.is_empty())
                        .map(|pair| {
                            let (key, value) = pair.split_once('=').expect("label=value");
                            let value = value.trim_matches('"');
                            (key.to_owned(), value.to_owned())
                        })
                        .collect();
                    (name.to_owned(), labels)
                }
                None => (series.to_owned(), BTreeMap::new()),
            };
            Sample {
                name,
                labels,
                value: value.parse().expect("a number"),
            }
        })
        .collect()
}

/// The value of the sample with exactly these labels.
pub(crate) fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    samples
        .iter()
        .find(|s| s.name == name && s.labels == wanted)
        .map(|s| s.value)
}
