//! Public object URLs: what the service hands out for a result, without asking S3.

use std::fmt::Write as _;

/// Where the S3 the service talks to lives, for building object URLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// AWS S3 itself: virtual-hosted URLs, `https://{bucket}.s3.{region}.amazonaws.com/{key}`.
    Aws {
        /// The bucket's region, `us-east-1`.
        region: String,
    },
    /// An S3-compatible server at a URL of its own (the embedded server, MinIO, Ceph RGW,
    /// moto): path-style URLs, `{url}/{bucket}/{key}`, since such servers rarely have a DNS
    /// name per bucket.
    Custom {
        /// The endpoint URL, without a trailing `/` (`http://127.0.0.1:9000`).
        url: String,
    },
}

impl Endpoint {
    /// AWS S3 in `region`.
    pub fn aws(region: impl Into<String>) -> Self {
        Endpoint::Aws {
            region: region.into(),
        }
    }

    /// An S3-compatible server at `url`; a trailing `/` is dropped.
    pub fn custom(url: impl Into<String>) -> Self {
        let mut url = url.into();
        while url.ends_with('/') {
            url.pop();
        }
        Endpoint::Custom { url }
    }

    /// The URL of `key` in `bucket`. Each key segment is percent-encoded (RFC 3986 unreserved
    /// characters and `/` are kept), so keys with spaces or `?` give working URLs.
    ///
    /// The URL only works for readers the bucket lets in (a public-read policy, a CDN in
    /// front); for a private bucket hand out
    /// [`StorageService::presigned_get_url`](crate::StorageService::presigned_get_url).
    pub fn object_url(&self, bucket: &str, key: &str) -> String {
        let key = encode_key(key);
        match self {
            Endpoint::Aws { region } => format!("https://{bucket}.s3.{region}.amazonaws.com/{key}"),
            Endpoint::Custom { url } => format!("{url}/{bucket}/{key}"),
        }
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters and `/`.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_is_virtual_hosted() {
        assert_eq!(
            Endpoint::aws("eu-west-3").object_url("results", "job-1.md"),
            "https://results.s3.eu-west-3.amazonaws.com/job-1.md"
        );
    }

    #[test]
    fn custom_is_path_style_without_a_double_slash() {
        assert_eq!(
            Endpoint::custom("http://127.0.0.1:9000/").object_url("results", "job-1/images/a.png"),
            "http://127.0.0.1:9000/results/job-1/images/a.png"
        );
    }

    #[test]
    fn keys_are_percent_encoded_per_segment() {
        assert_eq!(
            Endpoint::custom("http://s3").object_url("b", "j/images/a b?c#d%é~.png"),
            "http://s3/b/j/images/a%20b%3Fc%23d%25%C3%A9~.png"
        );
    }
}
