//! An aws-sdk-s3 client without a server: [`aws_smithy_mocks`] rules answer its requests, and
//! the functions here write the answers S3 would give. For tests of what happens around a
//! call (retries, classification, the breaker, metrics), where the wire does not matter;
//! [`S3Server`](crate::S3Server) is for those where it does.
//!
//! ```
//! use aws_sdk_s3::config::retry::RetryConfig;
//! use aws_sdk_s3::Client;
//! use aws_smithy_mocks::{mock, RuleMode};
//! use s3_ops_testkit::mock_client::{self, put_ok, s3_error};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let put = mock!(Client::put_object)
//!     .sequence()
//!     .http_response(|| s3_error(503, "SlowDown"))
//!     .http_response(put_ok)
//!     .build();
//! let (config, sent) = mock_client::config(RuleMode::Sequential, &[&put]);
//! let client = Client::from_conf(config.retry_config(RetryConfig::disabled()).build());
//!
//! let err = client.put_object().bucket("b").key("k").send().await.unwrap_err();
//! assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));
//! client.put_object().bucket("b").key("k").send().await.unwrap();
//! assert_eq!(sent.get(), 2);
//! # });
//! ```
//!
//! The configurations leave the SDK's own retries at its default (standard, 3 attempts): a
//! test of s3-ops passes them through `s3_ops_runtime::client::configure`, as a user does, or
//! turns the retries off itself. This crate does not depend on the runtime, so that the
//! runtime's own tests can use it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_sdk_s3::config::{Credentials, Region};
use aws_smithy_mocks::{create_mock_http_client, MockResponseInterceptor, Rule, RuleMode};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;

/// Counts the HTTP requests the SDK transmits (one per SDK attempt), independently of how the
/// mock rules count the answers they hand out. Cloned, it shares its count.
#[derive(Clone, Debug, Default)]
pub struct RequestCounter(Arc<AtomicUsize>);

impl RequestCounter {
    /// Requests transmitted so far.
    #[must_use]
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    // The last hook before the request is handed to the HTTP client: once per request really
    // sent, whether or not an answer comes.
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

/// A client configuration whose requests `rules` answer: in turn ([`RuleMode::Sequential`]),
/// or whichever matches first, each as often as it can ([`RuleMode::MatchAny`], for rules that
/// answer every request). Region `us-east-1`, static credentials, and a [`RequestCounter`] of
/// the requests sent. Built by hand: aws-sdk-s3's `test-util` feature is not enabled.
#[must_use]
pub fn config(mode: RuleMode, rules: &[&Rule]) -> (aws_sdk_s3::config::Builder, RequestCounter) {
    let interceptor = rules.iter().fold(
        MockResponseInterceptor::new().rule_mode(mode),
        |interceptor, rule| interceptor.with_rule(rule),
    );
    let counter = RequestCounter::default();
    let builder = base_config(create_mock_http_client(), &counter).interceptor(interceptor);
    (builder, counter)
}

/// A client configuration whose requests are never answered: only a timeout ends them. Give
/// it the attempt timeouts under test.
#[must_use]
pub fn hanging_config() -> (aws_sdk_s3::config::Builder, RequestCounter) {
    #[derive(Debug)]
    struct Hang;
    impl HttpConnector for Hang {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            HttpConnectorFuture::new(std::future::pending())
        }
    }
    let counter = RequestCounter::default();
    let http = http_client_fn(|_, _| SharedHttpConnector::new(Hang));
    (base_config(http, &counter), counter)
}

fn base_config(http: SharedHttpClient, counter: &RequestCounter) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::Config::builder()
        .region(Region::new(crate::REGION))
        .credentials_provider(Credentials::new(
            "AKIDMOCKTESTONLY",
            "mock-secret",
            None,
            None,
            "s3-ops-testkit-mock",
        ))
        .http_client(http)
        .interceptor(counter.clone())
}

/// S3's XML error body: `code` and `message`, a request id and a host id.
#[must_use]
pub fn error_xml(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>{message}</Message><RequestId>REQ123</RequestId>\
         <HostId>host-id</HostId></Error>"
    )
}

/// An S3 error answer: `status`, and `code` in the XML body with the message `mocked error`.
#[must_use]
pub fn s3_error(status: u16, code: &str) -> HttpResponse {
    raw_response(status, error_xml(code, "mocked error"))
}

/// An S3 error answer, as [`s3_error`], with extra headers (`x-amz-retry-after`,
/// `x-amz-request-id`, ...).
#[must_use]
pub fn s3_error_with_headers(
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

/// An answer with `status` and `body`.
///
/// # Panics
/// If `status` is not a valid HTTP status (100 to 999).
#[must_use]
pub fn raw_response(status: u16, body: String) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).expect("a valid status"),
        SdkBody::from(body),
    )
}

/// A successful `PutObject` answer: `200`, an empty body and an `ETag`.
#[must_use]
pub fn put_ok() -> HttpResponse {
    let mut response = HttpResponse::new(
        StatusCode::try_from(200).expect("a valid status"),
        SdkBody::empty(),
    );
    response
        .headers_mut()
        .insert("etag", "\"d41d8cd98f00b204e9800998ecf8427e\"");
    response
}
