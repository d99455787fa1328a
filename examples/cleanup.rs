//! `S3CleanupService`: best-effort deletion of temporary files, with no circuit breaker.
//!
//! The original recipe keeps deletes out of `StorageService` on purpose: cleanup is not on the critical
//! path, and a breaker opened by failing uploads must not stop it (nor should failing deletes
//! open the breaker that guards uploads). Here that rule is a compile-time one: a
//! `class = "cleanup"` operation takes no `circuit`, so every call reaches S3, even while the
//! storage circuits are open.
//!
//! Cleanup calls make one attempt (the class default): a failed delete is logged and reported,
//! and the next sweep ([`S3CleanupService::cleanup_expired_temp_files`]) picks the file up.

use std::error::Error as StdError;
use std::fmt;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_sdk_s3::Client;
use s3_ops_runtime::{s3_operation, S3Error, S3ErrorKind};

use crate::error::ValidationError;
use crate::{keys, validate};

/// The most keys S3 lists in one page and deletes in one `delete_objects` request.
pub const MAX_BATCH: usize = 1000;

/// A temporary object, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TempFile {
    /// Its key, `temp/{job_id}.pdf`.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, by S3's clock.
    pub last_modified: SystemTime,
}

/// A key S3 did not delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteFailure {
    /// The key.
    pub key: String,
    /// S3's error code (`AccessDenied`, `InternalError`), when it sent one; `None` when the
    /// request itself failed without an answer.
    pub code: Option<String>,
    /// S3's message, or the request's failure.
    pub message: String,
}

/// Why a cleanup stopped before it had looked at every file.
#[derive(Debug)]
pub enum CleanupError {
    /// The job id cannot name temporary files; nothing was listed. An empty id would otherwise
    /// list, and delete, every job's files.
    InvalidJobId(ValidationError),
    /// Listing failed; the files listed before were still processed.
    List(S3Error),
}

impl fmt::Display for CleanupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CleanupError::InvalidJobId(err) => err.fmt(f),
            CleanupError::List(err) => write!(f, "listing temporary files failed: {err}"),
        }
    }
}

impl StdError for CleanupError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            CleanupError::InvalidJobId(_) => None,
            CleanupError::List(err) => Some(err),
        }
    }
}

/// What [`S3CleanupService::cleanup_temp_files_for_job`] did.
#[derive(Debug)]
pub struct CleanupReport {
    /// The job.
    pub job_id: String,
    /// Temporary files of the job that were found.
    pub found: usize,
    /// Of those, how many S3 deleted.
    pub deleted: usize,
    /// The keys S3 did not delete, and why.
    pub errors: Vec<DeleteFailure>,
    /// Why the cleanup stopped early, if it did.
    pub stopped: Option<CleanupError>,
}

impl CleanupReport {
    /// `true` when every file of the job was found and deleted.
    pub fn is_complete(&self) -> bool {
        self.errors.is_empty() && self.stopped.is_none()
    }
}

/// What [`S3CleanupService::cleanup_expired_temp_files`] did.
#[derive(Debug, Default)]
pub struct ExpiredCleanup {
    /// Expired files deleted.
    pub files_deleted: usize,
    /// Their total size in bytes.
    pub bytes_freed: u64,
    /// The expired files S3 did not delete, and why.
    pub errors: Vec<DeleteFailure>,
    /// Why the sweep stopped early, if it did.
    pub stopped: Option<CleanupError>,
}

/// One page of a listing.
struct Page {
    files: Vec<TempFile>,
    next: Option<String>,
}

/// The original recipe's `S3CleanupService`: deletes the temporary files of the temp bucket
/// (`temp/…`, see [`keys`]), best effort, never behind a breaker.
///
/// ```no_run
/// use std::time::Duration;
/// use s3_ops_examples::S3CleanupService;
///
/// # async fn run(client: aws_sdk_s3::Client) {
/// let cleanup = S3CleanupService::new(client, "s3-ops-temp");
/// let report = cleanup.cleanup_temp_files_for_job("job-1").await;
/// if !report.is_complete() {
///     tracing::warn!(?report, "temporary files left behind; the daily sweep will retry");
/// }
/// let swept = cleanup.cleanup_expired_temp_files(Duration::from_secs(24 * 3600)).await;
/// println!("{} files, {} bytes freed", swept.files_deleted, swept.bytes_freed);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct S3CleanupService {
    client: Client,
    temp_bucket: String,
    page_size: usize,
    batch_size: usize,
}

impl S3CleanupService {
    /// Cleans up the temporary files of `temp_bucket`: pages of 1000 keys, deletes in batches
    /// of 1000.
    pub fn new(client: Client, temp_bucket: impl Into<String>) -> Self {
        Self {
            client,
            temp_bucket: temp_bucket.into(),
            page_size: MAX_BATCH,
            batch_size: MAX_BATCH,
        }
    }

    /// Lists `page_size` keys per `list_objects_v2` request instead of 1000 (for tests of
    /// pagination, or servers with a lower limit).
    ///
    /// # Panics
    ///
    /// Unless `1 <= page_size <= 1000`.
    pub fn with_page_size(mut self, page_size: usize) -> Self {
        assert!(
            (1..=MAX_BATCH).contains(&page_size),
            "page size must be within 1..=1000, not {page_size}"
        );
        self.page_size = page_size;
        self
    }

    /// Deletes `batch_size` keys per `delete_objects` request instead of 1000.
    ///
    /// # Panics
    ///
    /// Unless `1 <= batch_size <= 1000` (S3's limit).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        assert!(
            (1..=MAX_BATCH).contains(&batch_size),
            "batch size must be within 1..=1000, not {batch_size}"
        );
        self.batch_size = batch_size;
        self
    }

    /// The bucket cleaned up.
    pub fn temp_bucket(&self) -> &str {
        &self.temp_bucket
    }

    /// Deletes one temporary file. Best effort: a failure is logged and gives `false`.
    ///
    /// Deleting a key that does not exist succeeds, as in S3.
    pub async fn delete_temp_file(&self, key: &str) -> bool {
        match self.delete_object(key).await {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!(
                    bucket = %self.temp_bucket,
                    key,
                    error = %err,
                    "could not delete temporary file (best effort, left for the next sweep)"
                );
                false
            }
        }
    }

    /// Deletes every temporary file of `job_id`: lists `temp/{job_id}` page by page (keeping
    /// only the job's own keys, see [`keys::belongs_to_job`]), then deletes them with
    /// `delete_objects` in batches.
    ///
    /// Never fails: what could not be done is in the report. A listing that fails part-way
    /// still deletes the files listed before it.
    pub async fn cleanup_temp_files_for_job(&self, job_id: &str) -> CleanupReport {
        let mut report = CleanupReport {
            job_id: job_id.to_owned(),
            found: 0,
            deleted: 0,
            errors: Vec::new(),
            stopped: None,
        };
        if let Err(err) = validate::job_id(job_id) {
            report.stopped = Some(CleanupError::InvalidJobId(err));
            return report;
        }
        let (mut files, stopped) = self.list_all(&keys::temp_prefix_for_job(job_id)).await;
        files.retain(|file| keys::belongs_to_job(&file.key, job_id));
        report.found = files.len();
        report.stopped = stopped.map(CleanupError::List);
        let keys: Vec<String> = files.into_iter().map(|file| file.key).collect();
        let errors = self.delete_keys(&keys).await;
        report.deleted = keys.len().saturating_sub(errors.len());
        report.errors = errors;
        if !report.is_complete() {
            tracing::warn!(
                job_id,
                found = report.found,
                deleted = report.deleted,
                failed = report.errors.len(),
                stopped = report.stopped.as_ref().map(tracing::field::display),
                "temporary files of a job left behind (best effort, left for the next sweep)"
            );
        }
        report
    }

    /// The temporary files last written at least `older_than` ago, by S3's timestamps and this
    /// machine's clock (keep `older_than` well above the clock skew you expect).
    ///
    /// # Errors
    ///
    /// The first failed `list_objects_v2` page.
    pub async fn list_temp_files(&self, older_than: Duration) -> Result<Vec<TempFile>, S3Error> {
        let (files, stopped) = self.list_all(keys::TEMP_PREFIX).await;
        match stopped {
            Some(err) => Err(err),
            None => Ok(expired(files, older_than)),
        }
    }

    /// Deletes the temporary files last written at least `older_than` ago: the sweep that
    /// catches what per-job cleanups left behind. Never fails: what could not be done is in
    /// the result.
    pub async fn cleanup_expired_temp_files(&self, older_than: Duration) -> ExpiredCleanup {
        let (files, stopped) = self.list_all(keys::TEMP_PREFIX).await;
        let files = expired(files, older_than);
        let keys: Vec<String> = files.iter().map(|file| file.key.clone()).collect();
        let errors = self.delete_keys(&keys).await;
        let bytes_freed = files
            .iter()
            .filter(|file| !errors.iter().any(|failure| failure.key == file.key))
            .map(|file| file.size)
            .sum();
        ExpiredCleanup {
            files_deleted: keys.len().saturating_sub(errors.len()),
            bytes_freed,
            errors,
            stopped: stopped.map(CleanupError::List),
        }
    }

    /// Every page under `prefix`, and the error that stopped the listing, if one did.
    async fn list_all(&self, prefix: &str) -> (Vec<TempFile>, Option<S3Error>) {
        let mut files = Vec::new();
        let mut token: Option<String> = None;
        loop {
            match self.list_page(prefix, token.as_deref()).await {
                Ok(page) => {
                    files.extend(page.files);
                    match page.next {
                        Some(next) => token = Some(next),
                        None => return (files, None),
                    }
                }
                Err(err) => return (files, Some(err)),
            }
        }
    }

    /// Deletes `keys` in batches; the keys that were not deleted.
    async fn delete_keys(&self, keys: &[String]) -> Vec<DeleteFailure> {
        let mut failures = Vec::new();
        for batch in keys.chunks(self.batch_size) {
            match self.delete_batch(batch).await {
                Ok(refused) => failures.extend(refused),
                // The request failed as a whole: no key of the batch is known to be deleted.
                Err(err) => failures.extend(batch.iter().map(|key| DeleteFailure {
                    key: key.clone(),
                    code: err.code().map(str::to_owned),
                    message: err.to_string(),
                })),
            }
        }
        failures
    }

    #[s3_operation(class = "cleanup", op = "delete_object", bucket = self.temp_bucket)]
    async fn delete_object(&self, key: &str) -> Result<(), S3Error> {
        self.client
            .delete_object()
            .bucket(&self.temp_bucket)
            .key(key)
            .send()
            .await?;
        Ok(())
    }

    #[s3_operation(class = "cleanup", op = "list_objects_v2", bucket = self.temp_bucket)]
    async fn list_page(&self, prefix: &str, token: Option<&str>) -> Result<Page, S3Error> {
        let output = self
            .client
            .list_objects_v2()
            .bucket(&self.temp_bucket)
            .prefix(prefix)
            .max_keys(i32::try_from(self.page_size).unwrap_or(1000))
            .set_continuation_token(token.map(str::to_owned))
            .send()
            .await?;
        let files = output
            .contents()
            .iter()
            .filter_map(|object| {
                Some(TempFile {
                    key: object.key()?.to_owned(),
                    size: object
                        .size()
                        .and_then(|s| u64::try_from(s).ok())
                        .unwrap_or(0),
                    // S3 always sends it; an object without one is taken as just written.
                    last_modified: object
                        .last_modified()
                        .and_then(|t| SystemTime::try_from(*t).ok())
                        .unwrap_or_else(SystemTime::now),
                })
            })
            .collect();
        let next = match output.is_truncated() {
            Some(true) => output.next_continuation_token().map(str::to_owned),
            _ => None,
        };
        Ok(Page { files, next })
    }

    /// One `delete_objects` request; the keys S3 refused to delete.
    #[s3_operation(class = "cleanup", op = "delete_objects", bucket = self.temp_bucket)]
    async fn delete_batch(&self, batch: &[String]) -> Result<Vec<DeleteFailure>, S3Error> {
        let construction = |err| S3Error::from_source(S3ErrorKind::Construction, err);
        let objects = batch
            .iter()
            .map(|key| ObjectIdentifier::builder().key(key).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(construction)?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            // Only the failures come back.
            .quiet(true)
            .build()
            .map_err(construction)?;
        let output = self
            .client
            .delete_objects()
            .bucket(&self.temp_bucket)
            .delete(delete)
            .send()
            .await?;
        Ok(output
            .errors()
            .iter()
            .map(|error| DeleteFailure {
                key: error.key().unwrap_or_default().to_owned(),
                code: error.code().map(str::to_owned),
                message: error.message().unwrap_or_default().to_owned(),
            })
            .collect())
    }
}

/// The files last written at least `older_than` before now.
fn expired(files: Vec<TempFile>, older_than: Duration) -> Vec<TempFile> {
    let Some(cutoff) = SystemTime::now().checked_sub(older_than) else {
        return Vec::new();
    };
    files
        .into_iter()
        .filter(|file| file.last_modified <= cutoff)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(key: &str, age: Duration) -> TempFile {
        TempFile {
            key: key.to_owned(),
            size: 1,
            last_modified: SystemTime::now() - age,
        }
    }

    #[test]
    fn expired_keeps_files_at_least_as_old_as_asked() {
        let hour = Duration::from_secs(3600);
        let files = vec![file("old", 2 * hour), file("new", Duration::ZERO)];
        let keys = |files: Vec<TempFile>| files.into_iter().map(|f| f.key).collect::<Vec<_>>();
        assert_eq!(keys(expired(files.clone(), hour)), ["old"]);
        assert_eq!(keys(expired(files.clone(), Duration::ZERO)), ["old", "new"]);
        assert!(expired(files, Duration::MAX).is_empty());
    }

    #[test]
    #[should_panic(expected = "batch size must be within 1..=1000")]
    fn batches_larger_than_s3_allows_are_refused() {
        let client = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                .build(),
        );
        let _ = S3CleanupService::new(client, "b").with_batch_size(1001);
    }
}
