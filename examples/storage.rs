//! `StorageService`: the original recipe's critical-path S3 calls, each behind a circuit breaker and a
//! retry with backoff, declared with `#[s3_operation]`.
//!
//! Two buckets, as in the original recipe: uploaded documents go to the *temp* bucket under `temp/`, where
//! [`S3CleanupService`](crate::S3CleanupService) deletes them once a job is done; results and
//! images go to the *results* bucket, which is served to users. Give both the same name to use
//! one bucket: the key layout ([`keys`](crate::keys)) keeps them apart.
//!
//! Public methods check their input first ([`validate`](crate::validate)), then call one
//! annotated method per S3 request. An invalid input is therefore refused even while a circuit
//! is open, costs no request, is not retried, records nothing on the breaker and does not count
//! in `s3_operations_total`. [`StorageError::Validation`] is still classified
//! [`ErrorClass::Local`](s3_ops_runtime::ErrorClass::Local), which gives the same treatment to
//! a validation made inside an annotated body.

use std::fmt;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use aws_sdk_s3::Client;
use bytes::Bytes;
use s3_ops_runtime::{
    s3_operation, BreakerConfig, CircuitBreaker, RetryPolicy, S3Error, S3ErrorKind,
};

use crate::error::StorageError;
use crate::format::ResultFormat;
use crate::url::Endpoint;
use crate::{keys, validate};

/// The upload breaker's name, the `circuit_name` label of `s3_circuit_breaker_state`.
pub const UPLOAD_CIRCUIT: &str = "s3-upload";
/// The download breaker's name.
pub const DOWNLOAD_CIRCUIT: &str = "s3-download";

/// `Cache-Control` of results and images: a job's outputs never change once written, so
/// browsers and CDNs may keep them for a year.
pub const RESULT_CACHE_CONTROL: &str = "public, max-age=31536000";

/// `Content-Type` of extracted images.
pub const IMAGE_CONTENT_TYPE: &str = "image/png";

/// How a [`StorageService`] is set up. `Default` gives the original recipe's values;
/// [`setup::storage_config_from_env`](crate::setup::storage_config_from_env) reads the breakers'
/// and retries' settings from the environment.
#[derive(Clone, Debug)]
pub struct StorageConfig {
    /// Where uploaded documents wait for processing (default `s3-ops-temp`).
    pub temp_bucket: String,
    /// Where results and images are stored (default `s3-ops-results`).
    pub results_bucket: String,
    /// The `s3-upload` breaker's thresholds (default: 5 failures open it for 60 s).
    pub upload_breaker: BreakerConfig,
    /// The `s3-download` breaker's thresholds (default: 5 failures open it for 60 s).
    pub download_breaker: BreakerConfig,
    /// How writes are retried (default: 3 attempts, 1 s then 2 s backoff, with jitter).
    pub upload_retry: RetryPolicy,
    /// How reads are retried (default: as writes).
    pub download_retry: RetryPolicy,
    /// The largest document accepted, in bytes (default
    /// [`DEFAULT_MAX_DOCUMENT_SIZE`](validate::DEFAULT_MAX_DOCUMENT_SIZE), 50 MiB).
    pub max_document_size: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            temp_bucket: "s3-ops-temp".to_owned(),
            results_bucket: "s3-ops-results".to_owned(),
            upload_breaker: BreakerConfig::default(),
            download_breaker: BreakerConfig::default(),
            upload_retry: RetryPolicy::DEFAULT,
            download_retry: RetryPolicy::DEFAULT,
            max_document_size: validate::DEFAULT_MAX_DOCUMENT_SIZE,
        }
    }
}

impl StorageConfig {
    /// The same breaker thresholds for uploads and downloads.
    pub fn with_breakers(mut self, config: BreakerConfig) -> Self {
        self.upload_breaker = config.clone();
        self.download_breaker = config;
        self
    }
}

/// The original recipe's `StorageService`: documents in, results and images out, every S3 call behind a
/// breaker (`s3-upload` for writes, `s3-download` for reads) and retried on transient errors
/// (3 attempts, 1 s then 2 s backoff, with jitter).
///
/// Cloning gives another handle to the same service: clones share the client and the breakers.
///
/// ```no_run
/// use s3_ops_examples::{setup, ResultFormat, StorageConfig, StorageService};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let s3 = setup::embedded(&setup::client_options()).await?;
/// let config = StorageConfig::default();
/// let storage = StorageService::new(s3.client.clone(), s3.endpoint.clone(), config);
/// storage.ensure_buckets().await?;
///
/// let pdf = std::fs::read("report.pdf")?;
/// let temp_key = storage.store_document("job-1", pdf, "application/pdf").await?;
/// let document = storage.download_temp_file(&temp_key).await?;
/// // ... process `document` ...
/// let key = storage.upload_result("job-1", "# Report", ResultFormat::Markdown).await?;
/// println!("{}", storage.result_url(&key));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct StorageService {
    client: Client,
    endpoint: Endpoint,
    temp_bucket: String,
    results_bucket: String,
    max_document_size: usize,
    upload_circuit: CircuitBreaker,
    download_circuit: CircuitBreaker,
    upload_retry: RetryPolicy,
    download_retry: RetryPolicy,
}

impl fmt::Debug for StorageService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageService")
            .field("endpoint", &self.endpoint)
            .field("temp_bucket", &self.temp_bucket)
            .field("results_bucket", &self.results_bucket)
            .field("max_document_size", &self.max_document_size)
            .field("upload_circuit", &self.upload_circuit)
            .field("download_circuit", &self.download_circuit)
            .field("upload_retry", &self.upload_retry)
            .field("download_retry", &self.download_retry)
            .finish_non_exhaustive()
    }
}

impl StorageService {
    /// A service over `client`, which should be configured with
    /// [`s3_ops_runtime::client::configure`] (SDK retries off: s3-ops does the retrying), e.g.
    /// through [`setup`](crate::setup). `endpoint` is used for [`result_url`](Self::result_url)
    /// only.
    ///
    /// # Panics
    ///
    /// When a breaker threshold in `config` is zero.
    pub fn new(client: Client, endpoint: Endpoint, config: StorageConfig) -> Self {
        Self {
            client,
            endpoint,
            temp_bucket: config.temp_bucket,
            results_bucket: config.results_bucket,
            max_document_size: config.max_document_size,
            upload_circuit: CircuitBreaker::with_config(UPLOAD_CIRCUIT, config.upload_breaker),
            download_circuit: CircuitBreaker::with_config(
                DOWNLOAD_CIRCUIT,
                config.download_breaker,
            ),
            upload_retry: config.upload_retry,
            download_retry: config.download_retry,
        }
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Where object URLs point.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The bucket of uploaded documents.
    pub fn temp_bucket(&self) -> &str {
        &self.temp_bucket
    }

    /// The bucket of results and images.
    pub fn results_bucket(&self) -> &str {
        &self.results_bucket
    }

    /// The largest document accepted, in bytes.
    pub fn max_document_size(&self) -> usize {
        self.max_document_size
    }

    /// The breaker of writes, `s3-upload`.
    pub fn upload_circuit(&self) -> &CircuitBreaker {
        &self.upload_circuit
    }

    /// The breaker of reads, `s3-download`.
    pub fn download_circuit(&self) -> &CircuitBreaker {
        &self.download_circuit
    }

    /// How writes are retried.
    pub fn upload_retry(&self) -> &RetryPolicy {
        &self.upload_retry
    }

    /// How reads are retried.
    pub fn download_retry(&self) -> &RetryPolicy {
        &self.download_retry
    }

    /// Creates the temp and results buckets if they do not exist (`head_bucket`, then
    /// `create_bucket` in the client's region). Both calls go through the breakers like any
    /// other.
    ///
    /// # Errors
    ///
    /// The first failed call.
    pub async fn ensure_buckets(&self) -> Result<(), StorageError> {
        for bucket in [&self.temp_bucket, &self.results_bucket] {
            if !self.bucket_exists(bucket).await? {
                self.create_bucket(bucket).await?;
            }
        }
        Ok(())
    }

    /// Stores an uploaded document for processing as `temp/{job_id}.pdf` in the temp bucket
    /// and returns that key.
    ///
    /// Checked before any request: `content_type` is `application/pdf`, the document has at
    /// least [`MIN_DOCUMENT_SIZE`](validate::MIN_DOCUMENT_SIZE) bytes and at most
    /// [`max_document_size`](Self::max_document_size), and `job_id` is a valid id
    /// ([`validate::job_id`]).
    ///
    /// # Errors
    ///
    /// [`StorageError::Validation`] without a request; otherwise the upload's failure after its
    /// attempts, or a refusal of the open `s3-upload` circuit.
    pub async fn store_document(
        &self,
        job_id: &str,
        data: impl Into<Bytes>,
        content_type: &str,
    ) -> Result<String, StorageError> {
        let data = data.into();
        validate::job_id(job_id)?;
        validate::document(&data, content_type, self.max_document_size)?;
        let key = keys::temp_document(job_id);
        self.put_object(
            &self.temp_bucket,
            &key,
            &data,
            validate::PDF_CONTENT_TYPE,
            None,
        )
        .await?;
        Ok(key)
    }

    /// Reads a temporary file (`temp/{job_id}.pdf`) whole.
    ///
    /// The body is read inside the retried call: a body cut short fails the attempt, which is
    /// retried, instead of returning a truncated document.
    ///
    /// # Errors
    ///
    /// The download's failure after its attempts (`NoSuchKey` is not retried and does not count
    /// against the breaker), or a refusal of the open `s3-download` circuit.
    #[s3_operation(class = "download", op = "get_object", bucket = self.temp_bucket, retry = self.download_retry)]
    pub async fn download_temp_file(&self, key: &str) -> Result<Bytes, StorageError> {
        let object = self
            .client
            .get_object()
            .bucket(&self.temp_bucket)
            .key(key)
            .send()
            .await?;
        Ok(object.body.collect().await?.into_bytes())
    }

    /// Stores a job's result as `{job_id}.{ext}` in the results bucket, with the format's
    /// content type and [`RESULT_CACHE_CONTROL`], and returns the key.
    ///
    /// # Errors
    ///
    /// [`StorageError::Validation`] for an invalid `job_id`, without a request; otherwise the
    /// upload's failure, or a refusal of the open `s3-upload` circuit.
    pub async fn upload_result(
        &self,
        job_id: &str,
        content: &str,
        format: ResultFormat,
    ) -> Result<String, StorageError> {
        validate::job_id(job_id)?;
        let key = keys::result(job_id, format);
        let body = Bytes::copy_from_slice(content.as_bytes());
        self.put_object(
            &self.results_bucket,
            &key,
            &body,
            format.content_type(),
            Some(RESULT_CACHE_CONTROL),
        )
        .await?;
        Ok(key)
    }

    /// Stores an image extracted from a job's document as `{job_id}/images/{name}` in the
    /// results bucket (`image/png`, [`RESULT_CACHE_CONTROL`]) and returns the key.
    ///
    /// # Errors
    ///
    /// [`StorageError::Validation`] for an invalid `job_id` or `name`
    /// ([`validate::file_name`]), without a request; otherwise the upload's failure, or a
    /// refusal of the open `s3-upload` circuit.
    pub async fn upload_image(
        &self,
        job_id: &str,
        name: &str,
        data: impl Into<Bytes>,
    ) -> Result<String, StorageError> {
        validate::job_id(job_id)?;
        validate::file_name(name)?;
        let key = keys::image(job_id, name);
        self.put_object(
            &self.results_bucket,
            &key,
            &data.into(),
            IMAGE_CONTENT_TYPE,
            Some(RESULT_CACHE_CONTROL),
        )
        .await?;
        Ok(key)
    }

    /// Whether `key` exists in the results bucket (`head_object`).
    ///
    /// A missing object is an answer, not a failure: the 404 is turned into `Ok(false)` inside
    /// the call, so it counts as a success in the metrics and on the breaker. A missing results
    /// bucket gives `Ok(false)` too: S3 answers a `HEAD` for either with a bare 404.
    ///
    /// # Errors
    ///
    /// Any other failure after its attempts, or a refusal of the open `s3-download` circuit.
    #[s3_operation(class = "download", op = "head_object", bucket = self.results_bucket, retry = self.download_retry)]
    pub async fn file_exists(&self, key: &str) -> Result<bool, StorageError> {
        let head = self
            .client
            .head_object()
            .bucket(&self.results_bucket)
            .key(key)
            .send()
            .await;
        match head {
            Ok(_) => Ok(true),
            Err(err) if is_not_found(&err, |e| e.is_not_found()) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    /// The public URL of `key` in the results bucket: path style for a custom endpoint,
    /// virtual-hosted for AWS (see [`Endpoint::object_url`]). No request is made.
    pub fn result_url(&self, key: &str) -> String {
        self.endpoint.object_url(&self.results_bucket, key)
    }

    /// A URL that lets anyone `GET` `key` from the results bucket for `expires_in`, signed with
    /// the client's credentials (SigV4 query parameters). No request is made, so no breaker
    /// applies.
    ///
    /// # Errors
    ///
    /// `expires_in` longer than SigV4's 7 days, or a client without credentials or region:
    /// an [`S3Error`] of kind [`S3ErrorKind::Construction`] (classified `Local`).
    pub async fn presigned_get_url(
        &self,
        key: &str,
        expires_in: Duration,
    ) -> Result<String, StorageError> {
        let config = PresigningConfig::expires_in(expires_in)
            .map_err(|err| S3Error::from_source(S3ErrorKind::Construction, err))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.results_bucket)
            .key(key)
            .presigned(config)
            .await?;
        Ok(request.uri().to_owned())
    }

    /// One `put_object`, for every write of the service. `body` is cloned per attempt (a
    /// reference count, not a copy).
    #[s3_operation(class = "upload", op = "put_object", bucket = bucket, retry = self.upload_retry)]
    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: &Bytes,
        content_type: &str,
        cache_control: Option<&str>,
    ) -> Result<(), StorageError> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .set_cache_control(cache_control.map(str::to_owned))
            .body(ByteStream::from(body.clone()))
            .send()
            .await?;
        Ok(())
    }

    #[s3_operation(class = "download", op = "head_bucket", bucket = bucket, retry = self.download_retry)]
    async fn bucket_exists(&self, bucket: &str) -> Result<bool, StorageError> {
        match self.client.head_bucket().bucket(bucket).send().await {
            Ok(_) => Ok(true),
            Err(err) if is_not_found(&err, |e| e.is_not_found()) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    #[s3_operation(class = "upload", op = "create_bucket", bucket = bucket, retry = self.upload_retry)]
    async fn create_bucket(&self, bucket: &str) -> Result<(), StorageError> {
        // us-east-1 is the default location and refuses to be named as a constraint.
        let location = self
            .client
            .config()
            .region()
            .map(|region| region.as_ref())
            .filter(|region| *region != "us-east-1")
            .map(|region| {
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build()
            });
        let created = self
            .client
            .create_bucket()
            .bucket(bucket)
            .set_create_bucket_configuration(location)
            .send()
            .await;
        match created {
            // Another instance created it between our head_bucket and create_bucket.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_bucket_already_owned_by_you()) =>
            {
                Ok(())
            }
            result => result.map(drop).map_err(Into::into),
        }
    }
}

/// A 404 from `head_*`: the SDK's `NotFound` variant, or the bare status, since a HEAD answer
/// has no body to carry an error code.
fn is_not_found<E>(err: &aws_sdk_s3::error::SdkError<E>, not_found: impl Fn(&E) -> bool) -> bool {
    err.as_service_error().is_some_and(not_found)
        || err.raw_response().map(|r| r.status().as_u16()) == Some(404)
}
