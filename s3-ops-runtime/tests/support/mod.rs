//! Helpers shared by the integration tests: an `aws_sdk_s3::Client` on mock rules
//! ([`s3_ops_testkit::mock_client`]) configured with `client::configure`, exact retry policies,
//! and a reader of the metrics' text exposition.

// Each test binary includes this module and uses a different part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use aws_smithy_mocks::{Rule, RuleMode};
#[cfg(feature = "aws-sdk-s3")]
use s3_ops_runtime::client::{configure, ClientOptions};
use s3_ops_runtime::retry::{Jitter, RetryPolicy};
use s3_ops_runtime::S3Error;
use s3_ops_testkit::mock_client::{self, RequestCounter};

/// The bucket every mocked request names.
pub(crate) const BUCKET: &str = "mock-bucket";

/// A client answered by `rules` in order, set up by `client::configure` (SDK retries off), as
/// an s3-ops user builds it.
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
    let (builder, counter) = mock_client::config(mode, rules);
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
    let (builder, counter) = mock_client::hanging_config();
    (
        Client::from_conf(configure(builder, options).build()),
        counter,
    )
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
