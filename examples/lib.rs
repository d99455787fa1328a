//! The original recipe's two S3 services, ported to s3-ops.
//!
//! - [`StorageService`]: the critical path. Documents are stored and read back, results and
//!   images written, objects checked, every S3 call behind the `s3-upload` or `s3-download`
//!   circuit breaker and retried on transient errors, declared with
//!   [`#[s3_operation]`](s3_ops_runtime::s3_operation).
//! - [`S3CleanupService`]: best-effort deletion of temporary files, with no breaker (the
//!   attribute refuses one on a `cleanup` operation), so cleanup keeps working while the
//!   storage circuits are open.
//! - [`setup`]: a configured `aws_sdk_s3::Client`, on an embedded S3 server by default.
//!
//! Where each object goes is in [`keys`]; the input checks in [`validate`].
//!
//! ```no_run
//! use s3_ops_examples::{setup, ResultFormat, S3CleanupService, StorageConfig, StorageService};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let s3 = setup::connect(&setup::client_options()).await?;
//! let config = StorageConfig::default();
//! let storage = StorageService::new(s3.client.clone(), s3.endpoint.clone(), config);
//! let cleanup = S3CleanupService::new(s3.client.clone(), storage.temp_bucket());
//! storage.ensure_buckets().await?;
//!
//! let pdf = std::fs::read("invoice.pdf")?;
//! let temp_key = storage.store_document("job-42", pdf, "application/pdf").await?;
//! let document = storage.download_temp_file(&temp_key).await?;
//! let markdown = format!("# Invoice\n\n{} bytes", document.len());
//! let key = storage.upload_result("job-42", &markdown, ResultFormat::Markdown).await?;
//! println!("result at {}", storage.result_url(&key));
//! cleanup.cleanup_temp_files_for_job("job-42").await;
//! # Ok(()) }
//! ```
//!
//! `cargo run --example storage_service` runs a workload through both services on the embedded
//! server, with injected faults and an outage, and prints what the breakers and the metrics saw.

mod cleanup;
mod error;
mod format;
pub mod keys;
pub mod setup;
mod storage;
mod url;
pub mod validate;

pub use cleanup::{
    CleanupError, CleanupReport, DeleteFailure, ExpiredCleanup, S3CleanupService, TempFile,
    MAX_BATCH,
};
pub use error::{StorageError, ValidationError};
pub use format::{ResultFormat, UnknownFormat};
pub use storage::{
    StorageConfig, StorageService, DOWNLOAD_CIRCUIT, IMAGE_CONTENT_TYPE, RESULT_CACHE_CONTROL,
    UPLOAD_CIRCUIT,
};
pub use url::Endpoint;
