//! The trybuild catalogue of `#[s3_operation]` (`pass/`, `fail/<topic>/`, driven by `ui.rs`).
//! This library holds what the pass files share, so each file shows only the shape it proves.

/// A client for the services the pass files build; they never send a request.
#[must_use]
pub fn client() -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::from_static("us-east-1"))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Compiles only for a `Send` value: an annotated method's future must be `Send` when its
/// body's is, so that it can be spawned.
pub fn assert_send<T: Send>(_: T) {}
