//! The HTTP client aws-sdk-s3 uses to talk to the server.

use std::sync::OnceLock;

use aws_sdk_s3::config::SharedHttpClient;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

/// The shared HTTP client for aws-sdk-s3: hyper 1 through `aws-smithy-http-client`, rustls on
/// ring (plain `http://` for this server, HTTPS available), built once per process and cloned
/// (cheaply) on every call.
///
/// Its connection pool is shared by every SDK client it is given to. Pooled connections belong
/// to the tokio runtime that opened them; they are keyed by host and port, and every
/// [`S3Server`](crate::S3Server) has its own port, so separate `#[tokio::test]` runtimes do not
/// share connections in practice.
#[must_use]
pub fn http_client() -> SharedHttpClient {
    static CLIENT: OnceLock<SharedHttpClient> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            aws_smithy_http_client::Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .build_https()
        })
        .clone()
}
