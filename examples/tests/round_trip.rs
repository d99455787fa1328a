//! The services against the embedded S3 server: round trips, metadata, pagination, batching,
//! the wire faults they must survive, and cleanup going through while the breakers are open.
//!
//! Each test starts its own server, so request counters (`faults().requests`) are its own.
//! Tests that need a retry wait for a real backoff (0.5 to 1 s): the server is reached over
//! real sockets, so paused time would fire the SDK's timeouts.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use s3_ops_examples::setup::{self, S3Connection};
use s3_ops_examples::{
    CleanupError, ResultFormat, S3CleanupService, StorageConfig, StorageService, ValidationError,
    IMAGE_CONTENT_TYPE, RESULT_CACHE_CONTROL,
};
use s3_ops_runtime::{BreakerConfig, CircuitState};
use s3_ops_testkit::{FaultCode, Faults};

struct Fixture {
    s3: S3Connection,
    storage: StorageService,
    cleanup: S3CleanupService,
}

impl Fixture {
    async fn new() -> Self {
        Self::with_config(StorageConfig::default()).await
    }

    async fn with_config(config: StorageConfig) -> Self {
        let s3 = setup::embedded(&setup::client_options()).await.unwrap();
        let storage = StorageService::new(s3.client.clone(), s3.endpoint.clone(), config);
        storage.ensure_buckets().await.unwrap();
        let cleanup = S3CleanupService::new(s3.client.clone(), storage.temp_bucket());
        Self {
            s3,
            storage,
            cleanup,
        }
    }

    fn faults(&self) -> &Faults {
        self.s3.faults().unwrap()
    }

    /// Writes a temporary object directly, bypassing the service's key layout.
    async fn put_temp(&self, key: &str, len: usize) {
        self.s3
            .client
            .put_object()
            .bucket(self.storage.temp_bucket())
            .key(key)
            .body(ByteStream::from(vec![7u8; len]))
            .send()
            .await
            .unwrap();
    }

    async fn temp_exists(&self, key: &str) -> bool {
        self.s3
            .client
            .head_object()
            .bucket(self.storage.temp_bucket())
            .key(key)
            .send()
            .await
            .is_ok()
    }
}

fn pdf(len: usize) -> Bytes {
    let mut data = b"%PDF-1.7\n".to_vec();
    data.extend((0..len.saturating_sub(data.len())).map(|i| (i * 31 % 251) as u8));
    data.into()
}

#[tokio::test]
async fn ensure_buckets_creates_them_once() {
    let f = Fixture::new().await;
    assert_eq!(f.faults().requests("create_bucket"), 2);
    f.storage.ensure_buckets().await.unwrap();
    assert_eq!(f.faults().requests("create_bucket"), 2);
    assert_eq!(f.faults().requests("head_bucket"), 4);
}

#[tokio::test]
async fn a_stored_document_reads_back_identical_from_its_temp_key() {
    let f = Fixture::new().await;
    let document = pdf(64 * 1024);
    let key = f
        .storage
        .store_document("job-1", document.clone(), "application/pdf")
        .await
        .unwrap();
    assert_eq!(key, "temp/job-1.pdf");
    assert!(f.temp_exists("temp/job-1.pdf").await);
    assert_eq!(f.storage.download_temp_file(&key).await.unwrap(), document);
}

#[tokio::test]
async fn invalid_documents_are_refused_without_a_request() {
    let f = Fixture::with_config(StorageConfig {
        max_document_size: 1000,
        ..StorageConfig::default()
    })
    .await;
    let puts = f.faults().requests("put_object");
    let refused = [
        f.storage
            .store_document("job-1", pdf(500), "image/png")
            .await,
        f.storage
            .store_document("job-1", pdf(99), "application/pdf")
            .await,
        f.storage
            .store_document("job-1", pdf(1001), "application/pdf")
            .await,
        f.storage
            .store_document("job/1", pdf(500), "application/pdf")
            .await,
        f.storage.upload_image("job-1", "../x.png", pdf(500)).await,
    ];
    let reasons: Vec<_> = refused
        .iter()
        .map(
            |result| match result.as_ref().unwrap_err().as_validation() {
                Some(ValidationError::ContentType { .. }) => "content type",
                Some(ValidationError::TooSmall { size: 99, min: 100 }) => "too small",
                Some(ValidationError::TooLarge {
                    size: 1001,
                    max: 1000,
                }) => "too large",
                Some(ValidationError::JobId { .. }) => "job id",
                Some(ValidationError::FileName { .. }) => "file name",
                other => panic!("unexpected {other:?}"),
            },
        )
        .collect();
    assert_eq!(
        reasons,
        [
            "content type",
            "too small",
            "too large",
            "job id",
            "file name"
        ]
    );
    assert_eq!(f.faults().requests("put_object"), puts);
    assert_eq!(f.storage.upload_circuit().stats().opened, 0);
    // The limit is inclusive.
    f.storage
        .store_document("job-1", pdf(1000), "application/pdf")
        .await
        .unwrap();
}

#[tokio::test]
async fn results_and_images_carry_their_content_type_and_cache_control() {
    let f = Fixture::new().await;
    let cases = [
        (
            ResultFormat::Markdown,
            "job-7.md",
            "text/markdown; charset=utf-8",
        ),
        (ResultFormat::Html, "job-7.html", "text/html; charset=utf-8"),
        (ResultFormat::Json, "job-7.json", "application/json"),
        (ResultFormat::Text, "job-7.txt", "text/plain; charset=utf-8"),
    ];
    for (format, expected_key, content_type) in cases {
        let key = f
            .storage
            .upload_result("job-7", "# result", format)
            .await
            .unwrap();
        assert_eq!(key, expected_key);
        let head =
            f.s3.client
                .head_object()
                .bucket(f.storage.results_bucket())
                .key(&key)
                .send()
                .await
                .unwrap();
        assert_eq!(head.content_type(), Some(content_type), "{format}");
        assert_eq!(head.cache_control(), Some(RESULT_CACHE_CONTROL), "{format}");
    }

    let png = Bytes::from_static(b"\x89PNG\r\n\x1a\n0000");
    let key = f
        .storage
        .upload_image("job-7", "page 1.png", png.clone())
        .await
        .unwrap();
    assert_eq!(key, "job-7/images/page 1.png");
    let image =
        f.s3.client
            .get_object()
            .bucket(f.storage.results_bucket())
            .key(&key)
            .send()
            .await
            .unwrap();
    assert_eq!(image.content_type(), Some(IMAGE_CONTENT_TYPE));
    assert_eq!(image.body.collect().await.unwrap().into_bytes(), png);
}

#[tokio::test]
async fn file_exists_answers_false_for_a_missing_key_without_an_error() {
    let f = Fixture::new().await;
    let key = f
        .storage
        .upload_result("job-2", "x", ResultFormat::Text)
        .await
        .unwrap();
    assert!(f.storage.file_exists(&key).await.unwrap());
    assert!(!f.storage.file_exists("job-2.md").await.unwrap());
    // One request each: the 404 was an answer, not a failure to retry.
    assert_eq!(f.faults().requests("head_object"), 2);
}

#[tokio::test]
async fn urls_point_at_the_results_bucket() {
    let f = Fixture::new().await;
    let endpoint = f.s3.server.as_ref().unwrap().endpoint();
    assert_eq!(
        f.storage.result_url("job-3/images/a b.png"),
        format!("{endpoint}/s3-ops-results/job-3/images/a%20b.png")
    );

    let requests = f.faults().total_requests();
    let url = f
        .storage
        .presigned_get_url("job-3.md", Duration::from_secs(600))
        .await
        .unwrap();
    assert!(
        url.starts_with(&format!("{endpoint}/s3-ops-results/job-3.md?")),
        "{url}"
    );
    assert!(url.contains("X-Amz-Expires=600"), "{url}");
    assert!(url.contains("X-Amz-Signature="), "{url}");
    assert_eq!(f.faults().total_requests(), requests, "presigning is local");

    let too_long = f
        .storage
        .presigned_get_url("job-3.md", Duration::from_secs(8 * 24 * 3600))
        .await
        .unwrap_err();
    assert_eq!(
        s3_ops_runtime::Classify::classify(&too_long),
        s3_ops_runtime::ErrorClass::Local
    );
}

#[tokio::test]
async fn a_body_cut_short_is_retried_never_returned_truncated() {
    let f = Fixture::new().await;
    let document = pdf(256 * 1024);
    let key = f
        .storage
        .store_document("job-4", document.clone(), "application/pdf")
        .await
        .unwrap();
    f.faults().cut_body_next("get_object", 1);
    assert_eq!(f.storage.download_temp_file(&key).await.unwrap(), document);
    assert_eq!(f.faults().injected().cut_bodies, 1);
    assert_eq!(f.faults().requests("get_object"), 2);
}

#[tokio::test]
async fn a_throttled_upload_is_retried() {
    let f = Fixture::new().await;
    f.faults().fail_next("put_object", FaultCode::SlowDown, 1);
    f.storage
        .store_document("job-5", pdf(200), "application/pdf")
        .await
        .unwrap();
    assert_eq!(f.faults().requests("put_object"), 2);
    assert_eq!(f.storage.upload_circuit().state(), CircuitState::Closed);
}

#[tokio::test]
async fn job_cleanup_pages_batches_and_spares_the_job_whose_id_extends_it() {
    let f = Fixture::new().await;
    let cleanup = f.cleanup.clone().with_page_size(2).with_batch_size(4);
    f.put_temp("temp/job-1.pdf", 10).await;
    for page in 1..=5 {
        f.put_temp(&format!("temp/job-1/page-{page}.png"), 10).await;
    }
    f.put_temp("temp/job-10.pdf", 10).await;

    let report = cleanup.cleanup_temp_files_for_job("job-1").await;
    assert!(report.is_complete(), "{report:?}");
    assert_eq!((report.found, report.deleted), (6, 6));
    // 7 keys under `temp/job-1`, 2 per page; 6 of them deleted, 4 per batch.
    assert_eq!(f.faults().requests("list_objects_v2"), 4);
    assert_eq!(f.faults().requests("delete_objects"), 2);
    assert!(!f.temp_exists("temp/job-1.pdf").await);
    assert!(!f.temp_exists("temp/job-1/page-5.png").await);
    assert!(f.temp_exists("temp/job-10.pdf").await);
}

#[tokio::test]
async fn a_failed_batch_is_reported_key_by_key() {
    let f = Fixture::new().await;
    f.put_temp("temp/job-6.pdf", 10).await;
    f.put_temp("temp/job-6/a.png", 10).await;
    f.faults()
        .fail_next("delete_objects", FaultCode::InternalError, 1);

    let report = f.cleanup.cleanup_temp_files_for_job("job-6").await;
    assert_eq!((report.found, report.deleted), (2, 0));
    let mut failed: Vec<_> = report
        .errors
        .iter()
        .map(|e| (e.key.as_str(), e.code.as_deref()))
        .collect();
    failed.sort_unstable();
    assert_eq!(
        failed,
        [
            ("temp/job-6.pdf", Some("InternalError")),
            ("temp/job-6/a.png", Some("InternalError"))
        ]
    );
    // Best effort: one attempt, then the files wait for the next sweep.
    assert_eq!(f.faults().requests("delete_objects"), 1);
    assert!(f.temp_exists("temp/job-6.pdf").await);
}

#[tokio::test]
async fn an_invalid_job_id_lists_nothing() {
    let f = Fixture::new().await;
    f.put_temp("temp/job-1.pdf", 10).await;
    let report = f.cleanup.cleanup_temp_files_for_job("").await;
    assert!(matches!(
        report.stopped,
        Some(CleanupError::InvalidJobId(_))
    ));
    assert_eq!(f.faults().requests("list_objects_v2"), 0);
    assert!(f.temp_exists("temp/job-1.pdf").await);
}

#[tokio::test]
async fn the_expiry_sweep_deletes_old_enough_files_and_counts_their_bytes() {
    let f = Fixture::new().await;
    for (job, len) in [("job-a", 150), ("job-b", 250), ("job-c", 350)] {
        f.storage
            .store_document(job, pdf(len), "application/pdf")
            .await
            .unwrap();
    }
    let hour = Duration::from_secs(3600);
    assert!(f.cleanup.list_temp_files(hour).await.unwrap().is_empty());
    let mut listed: Vec<_> = f
        .cleanup
        .list_temp_files(Duration::ZERO)
        .await
        .unwrap()
        .into_iter()
        .map(|file| (file.key, file.size))
        .collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        [
            ("temp/job-a.pdf".to_owned(), 150),
            ("temp/job-b.pdf".to_owned(), 250),
            ("temp/job-c.pdf".to_owned(), 350)
        ]
    );

    assert_eq!(
        f.cleanup
            .cleanup_expired_temp_files(hour)
            .await
            .files_deleted,
        0
    );
    let swept = f.cleanup.cleanup_expired_temp_files(Duration::ZERO).await;
    assert_eq!((swept.files_deleted, swept.bytes_freed), (3, 750));
    assert!(swept.errors.is_empty() && swept.stopped.is_none());
    assert!(f
        .cleanup
        .list_temp_files(Duration::ZERO)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn cleanup_reaches_s3_while_the_storage_circuits_are_open() {
    let f = Fixture::new().await;
    let key = f
        .storage
        .store_document("job-8", pdf(200), "application/pdf")
        .await
        .unwrap();
    f.storage.upload_circuit().force_open();
    f.storage.download_circuit().force_open();
    let (puts, gets) = (
        f.faults().requests("put_object"),
        f.faults().requests("get_object"),
    );

    let refused = f
        .storage
        .store_document("job-9", pdf(200), "application/pdf")
        .await
        .unwrap_err();
    assert!(refused.is_circuit_open(), "{refused}");
    assert!(f
        .storage
        .download_temp_file(&key)
        .await
        .unwrap_err()
        .is_circuit_open());
    assert_eq!(f.faults().requests("put_object"), puts);
    assert_eq!(f.faults().requests("get_object"), gets);

    assert!(f.cleanup.delete_temp_file(&key).await);
    assert_eq!(f.faults().requests("delete_object"), 1);
    assert!(!f.temp_exists(&key).await);
}

#[tokio::test]
async fn five_failed_uploads_open_the_circuit_and_the_next_fails_fast() {
    let f = Fixture::with_config(StorageConfig::default().with_breakers(BreakerConfig {
        open_timeout: Duration::from_secs(30),
        ..BreakerConfig::default()
    }))
    .await;
    f.faults().outage();
    let uploads = (0..5).map(|i| {
        let storage = f.storage.clone();
        tokio::spawn(async move {
            storage
                .store_document(&format!("job-{i}"), pdf(200), "application/pdf")
                .await
        })
    });
    for upload in uploads.collect::<Vec<_>>() {
        let err = upload.await.unwrap().unwrap_err();
        assert_eq!(
            err.as_s3().and_then(|e| e.code()),
            Some("ServiceUnavailable")
        );
    }
    assert_eq!(f.faults().requests("put_object"), 15, "3 attempts each");
    assert_eq!(f.storage.upload_circuit().state(), CircuitState::Open);
    assert_eq!(f.storage.download_circuit().state(), CircuitState::Closed);

    let refused = f
        .storage
        .upload_result("job-0", "x", ResultFormat::Markdown)
        .await
        .unwrap_err();
    assert!(refused.is_circuit_open());
    assert_eq!(f.faults().requests("put_object"), 15);
}
