//! `client::configure` sets every limit `ClientOptions` was given, not only the defaults: the
//! connect timeout an operator lowers (or removes) reaches the SDK's timeout config.
#![cfg(feature = "aws-sdk-s3")]

use std::time::Duration;

use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use s3_ops_runtime::client::{configure, ClientOptions};

fn built(options: &ClientOptions) -> aws_sdk_s3::Config {
    configure(aws_sdk_s3::Config::builder(), options).build()
}

#[test]
fn a_connect_timeout_of_the_callers_own_reaches_the_sdk() {
    let config = built(&ClientOptions::new().connect_timeout(Duration::from_millis(750)));
    let timeouts = config.timeout_config().expect("a timeout config is set");
    assert_eq!(timeouts.connect_timeout(), Some(Duration::from_millis(750)));
    // The attempt limit is left at its default.
    assert_eq!(
        timeouts.operation_attempt_timeout(),
        Some(Duration::from_secs(30))
    );
}

#[test]
fn no_connect_timeout_leaves_the_sdks_default() {
    let config = built(&ClientOptions::new().connect_timeout(None));
    let timeouts = config.timeout_config().expect("a timeout config is set");
    assert_eq!(timeouts.connect_timeout(), None);
    assert_ne!(
        ClientOptions::new().connect_timeout(None),
        ClientOptions::new(),
        "the option is recorded"
    );
}

#[test]
fn an_attempt_timeout_of_the_callers_own_reaches_the_sdk() {
    let config = built(&ClientOptions::new().attempt_timeout(Duration::from_secs(4)));
    let timeouts = config.timeout_config().expect("a timeout config is set");
    assert_eq!(
        timeouts.operation_attempt_timeout(),
        Some(Duration::from_secs(4))
    );
    assert_eq!(timeouts.connect_timeout(), Some(Duration::from_secs(3)));
}

#[test]
fn checksums_stay_the_sdks_unless_asked() {
    let config = built(&ClientOptions::new().checksums_when_required(false));
    assert_ne!(
        config.request_checksum_calculation(),
        Some(&RequestChecksumCalculation::WhenRequired)
    );
    let config = built(&ClientOptions::new().checksums_when_required(true));
    assert_eq!(
        config.response_checksum_validation(),
        Some(&ResponseChecksumValidation::WhenRequired)
    );
}
