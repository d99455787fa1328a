//! An in-process S3 server for tests, benchmarks and examples, with fault injection at the
//! wire.
//!
//! [`S3Server::start`] serves [s3s](https://docs.rs/s3s) + s3s-fs over a temporary directory on
//! `127.0.0.1` (HTTP/1.1, SigV4 checked). [`S3Server::faults`] makes chosen requests fail with
//! an S3 error ([`FaultCode`]), adds latency, simulates an outage, drops connections or cuts
//! response bodies short, and counts the requests that reached the server.
//!
//! ```no_run
//! use aws_sdk_s3::config::retry::RetryConfig;
//! use s3_ops_testkit::{FaultCode, S3Server};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let server = S3Server::start().await?;
//! server.create_bucket("bucket").await?;
//! let client = aws_sdk_s3::Client::from_conf(
//!     server.config_builder().retry_config(RetryConfig::disabled()).build(),
//! );
//!
//! server.faults().fail_next("put_object", FaultCode::SlowDown, 1);
//! let err = client.put_object().bucket("bucket").key("k").send().await.unwrap_err();
//! assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));
//! client.put_object().bucket("bucket").key("k").send().await?;
//! assert_eq!(server.faults().requests("put_object"), 2);
//! # Ok(())
//! # }
//! ```
//!
//! Operations are named by their aws-sdk-s3 snake_case names (see [`Op`]); the server learns
//! each request's operation from s3s's router, in an [`s3s::access::S3Access`] hook that runs
//! after signature verification and before the operation, and hands the connection-level
//! faults to the hyper service around s3s through the request extensions.
//!
//! Where it differs from S3, and what to know:
//! - s3s-fs stores an object before checking its `Content-MD5`: a `BadDigest` answer may leave
//!   the new object in place (S3 never stores it).
//! - s3s logs every request, `Authorization` header included, at `DEBUG` (target `s3s`): keep
//!   `s3s` at `INFO` or above in a subscriber whose output others read (`s3s=off` also hides the
//!   three `ERROR` lines s3s writes for every injected fault).
//! - Writes into a bucket that does not exist answer `NoSuchBucket`, as S3 does (s3s-fs alone
//!   would create the bucket's directory).

mod client;
mod faults;
pub mod mock_client;
mod op;
mod server;

pub use client::http_client;
pub use faults::{FaultCode, FaultCounts, Faults, DEFAULT_SEED};
pub use op::Op;
pub use server::{S3Server, ACCESS_KEY, REGION, SECRET_KEY};
