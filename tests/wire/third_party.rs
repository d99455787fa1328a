//! The example's services on the selected server: the third-party one of
//! `S3_OPS_TEST_ENDPOINT` when set, else the embedded one. No fault injection here; what must
//! not reach the server is counted client-side.
//!
//! The example's own tests (`examples/tests/round_trip.rs`) check the services' logic on the
//! embedded server; these check that the same calls work over the wire protocol of other
//! servers, with 1 MiB bodies (Ceph RGW only accepts them with `S3_OPS_TEST_CHECKSUMS=
//! when_required`), and that an open circuit sends nothing while cleanup still gets through.

use std::collections::BTreeMap;
use std::time::Duration;

use s3_ops_examples::{
    ResultFormat, S3CleanupService, StorageConfig, StorageService, RESULT_CACHE_CONTROL,
};
use s3_ops_runtime::metrics::{self, OperationResult};
use s3_ops_runtime::{BreakerConfig, CircuitState, S3ErrorKind};

use crate::services::Objects;
use crate::target::{chain, Wire};

const MIB: usize = 1 << 20;

/// A random job id for this test: every test sees its own keys even in a shared bucket.
fn job_id(wire: &Wire, stream: u64) -> String {
    format!("job-{:08x}", wire.rng(stream).next_u64() as u32)
}

fn storage(wire: &Wire, temp: &str, results: &str) -> StorageService {
    StorageService::new(
        wire.client().clone(),
        wire.endpoint(),
        StorageConfig {
            temp_bucket: temp.to_owned(),
            results_bucket: results.to_owned(),
            ..StorageConfig::default()
        },
    )
}

#[tokio::test]
async fn services_round_trip_with_one_mib_bodies() {
    Wire::selected("services_round_trip")
        .await
        .run(|wire| async move {
            let (temp, results) = (wire.bucket_name("tmp"), wire.bucket_name("res"));
            let storage = storage(&wire, &temp, &results);

            // Through the breakers: head_bucket finds neither, create_bucket makes both, and
            // the second time nothing is created.
            storage
                .ensure_buckets()
                .await
                .unwrap_or_else(|e| panic!("{}", chain(&e)));
            storage.ensure_buckets().await.unwrap();
            assert_eq!(wire.sent("head_bucket"), 4);
            assert_eq!(wire.sent("create_bucket"), 2);

            let mut rng = wire.rng(1);
            let job = job_id(&wire, 2);
            let document = rng.bytes(MIB);
            let key = storage
                .store_document(&job, document.clone(), "application/pdf")
                .await
                .unwrap_or_else(|e| panic!("1 MiB upload: {}", chain(&e)));
            assert_eq!(key, format!("temp/{job}.pdf"));
            let read = storage.download_temp_file(&key).await.unwrap();
            assert!(read == document[..], "the document read back differs");
            assert!(wire.read_plain(&temp, &key).await.unwrap() == document);

            let result = storage
                .upload_result(&job, "# Result\n", ResultFormat::Markdown)
                .await
                .unwrap();
            assert!(storage.file_exists(&result).await.unwrap());
            assert!(!storage.file_exists(&format!("{job}.json")).await.unwrap());
            let head = wire
                .plain()
                .head_object()
                .bucket(&results)
                .key(&result)
                .send()
                .await
                .unwrap();
            assert_eq!(head.content_type(), Some("text/markdown; charset=utf-8"));
            assert_eq!(head.cache_control(), Some(RESULT_CACHE_CONTROL));

            // Streamed from a file: `aws-chunked` with a trailing checksum by default, which
            // Ceph RGW refuses unless checksums are computed only when required.
            let streamed = rng.bytes(MIB);
            let path = std::env::temp_dir().join(format!("s3-ops-wire-{temp}.bin"));
            std::fs::write(&path, &streamed).unwrap();
            let objects = Objects::new(wire.client().clone(), &results, BreakerConfig::default());
            let uploaded = objects.put_file("streamed.bin", &path).await;
            std::fs::remove_file(&path).unwrap();
            uploaded.unwrap_or_else(|e| panic!("1 MiB streamed upload: {}", chain(&e)));
            assert!(wire.read_plain(&results, "streamed.bin").await.unwrap() == streamed);

            let image = rng.bytes(MIB);
            let image_key = storage
                .upload_image(&job, "page-1.png", image.clone())
                .await
                .unwrap();
            assert!(wire.read_plain(&results, &image_key).await.unwrap() == image);

            // Pagination and prefixes: jobs `{job}-1` and `{job}-10` share a key prefix.
            let cleanup = S3CleanupService::new(wire.client().clone(), &temp)
                .with_page_size(2)
                .with_batch_size(1);
            let mut sizes = BTreeMap::new();
            for suffix in ["1", "10", "2", "3"] {
                let size = 100 + rng.below_or_eq(4000);
                let data = rng.bytes(size);
                let k = storage
                    .store_document(&format!("{job}-{suffix}"), data.clone(), "application/pdf")
                    .await
                    .unwrap();
                sizes.insert(k, data.len() as u64);
            }
            wire.put_plain(&temp, &format!("temp/{job}-1/page-2.png"), b"png".to_vec())
                .await;
            sizes.insert(format!("temp/{job}-1/page-2.png"), 3);
            sizes.insert(key.clone(), MIB as u64);

            let lists = wire.sent("list_objects_v2");
            let listed: BTreeMap<String, u64> = cleanup
                .list_temp_files(Duration::ZERO)
                .await
                .unwrap()
                .into_iter()
                .map(|f| (f.key, f.size))
                .collect();
            assert_eq!(listed, sizes);
            assert_eq!(
                wire.sent("list_objects_v2") - lists,
                3,
                "6 keys, 2 per page"
            );

            let lists = wire.sent("list_objects_v2");
            let report = cleanup
                .cleanup_temp_files_for_job(&format!("{job}-1"))
                .await;
            assert!(report.is_complete(), "{report:?}");
            assert_eq!((report.found, report.deleted), (2, 2));
            // `temp/{job}-1` matches 3 keys, `{job}-10`'s included: 2 pages.
            assert_eq!(wire.sent("list_objects_v2") - lists, 2);
            assert_eq!(wire.sent("delete_objects"), 2, "one key per batch");
            let left = wire.list_keys(&temp, "temp/").await;
            let mut expected = vec![
                key.clone(),
                format!("temp/{job}-10.pdf"),
                format!("temp/{job}-2.pdf"),
                format!("temp/{job}-3.pdf"),
            ];
            expected.sort_unstable();
            assert_eq!(left, expected);

            let swept = cleanup.cleanup_expired_temp_files(Duration::ZERO).await;
            assert!(
                swept.errors.is_empty() && swept.stopped.is_none(),
                "{swept:?}"
            );
            assert_eq!(swept.files_deleted, 4);
            assert!(wire.list_keys(&temp, "temp/").await.is_empty());
        })
        .await;
}

#[tokio::test]
async fn open_circuits_send_nothing_and_cleanup_still_reaches_the_server() {
    Wire::selected("open_circuits_cleanup")
        .await
        .run(|wire| async move {
            let (temp, results) = (wire.bucket_name("tmp"), wire.bucket_name("res"));
            let storage = storage(&wire, &temp, &results);
            storage.ensure_buckets().await.unwrap();
            let job = job_id(&wire, 1);
            let key = storage
                .store_document(&job, vec![b'%'; 300], "application/pdf")
                .await
                .unwrap();
            for page in 0..3 {
                wire.put_plain(&temp, &format!("temp/{job}/page-{page}.png"), vec![1; 10])
                    .await;
            }

            // As five failed calls would, without needing a failing server.
            for _ in 0..5 {
                storage.upload_circuit().record_failure();
                storage.download_circuit().record_failure();
            }
            assert_eq!(storage.upload_circuit().state(), CircuitState::Open);
            assert_eq!(storage.download_circuit().state(), CircuitState::Open);

            let sent = wire.sent_total();
            let received: Vec<_> = ["put_object", "get_object", "head_object"]
                .map(|op| wire.received(op))
                .into();
            let refusals = [
                storage
                    .store_document(&format!("{job}-2"), vec![b'%'; 300], "application/pdf")
                    .await
                    .map(drop),
                storage
                    .upload_result(&job, "x", ResultFormat::Json)
                    .await
                    .map(drop),
                storage.download_temp_file(&key).await.map(drop),
                storage.file_exists(&key).await.map(drop),
            ];
            for refused in refusals {
                let err = refused.unwrap_err();
                assert!(err.is_circuit_open(), "{err}");
            }
            assert_eq!(wire.sent_total(), sent, "an open circuit sent a request");
            let received_after: Vec<_> = ["put_object", "get_object", "head_object"]
                .map(|op| wire.received(op))
                .into();
            assert_eq!(received_after, received);
            for (op, bucket) in [
                ("put_object", &temp),
                ("put_object", &results),
                ("get_object", &temp),
                ("head_object", &results),
            ] {
                assert_eq!(
                    metrics::operations_total(op, bucket, OperationResult::CircuitOpen),
                    1,
                    "{op} on {bucket}"
                );
            }

            // Cleanup has no breaker: it lists and deletes while both circuits are open.
            let cleanup = S3CleanupService::new(wire.client().clone(), &temp)
                .with_page_size(2)
                .with_batch_size(3);
            let report = cleanup.cleanup_temp_files_for_job(&job).await;
            assert!(report.is_complete(), "{report:?}");
            assert_eq!((report.found, report.deleted), (4, 4));
            assert_eq!(wire.sent("list_objects_v2"), 2);
            assert_eq!(wire.sent("delete_objects"), 2);
            if let Some(deletes) = wire.received("delete_objects") {
                assert_eq!(deletes, 2);
            }
            assert!(wire
                .list_keys(&temp, &format!("temp/{job}"))
                .await
                .is_empty());
            assert!(cleanup.delete_temp_file(&key).await);
            assert_eq!(wire.sent("delete_object"), 1);
            assert_eq!(storage.upload_circuit().state(), CircuitState::Open);
        })
        .await;
}

#[tokio::test]
async fn real_client_errors_are_not_retried_and_do_not_count_against_the_breaker() {
    Wire::selected("real_client_errors")
        .await
        .run(|wire| async move {
            // One recorded failure would open these breakers.
            let strict = BreakerConfig {
                failure_threshold: 1,
                ..BreakerConfig::default()
            };
            let bucket = wire.create_bucket("b").await;
            let objects = Objects::new(wire.client().clone(), &bucket, strict.clone());
            let service_error = |err: &s3_ops_runtime::S3Error| {
                assert_eq!(err.kind(), S3ErrorKind::Service, "{err}");
                (err.code().map(str::to_owned), err.status())
            };

            for call in 1..=3 {
                let err = objects.get("missing").await.unwrap_err();
                assert_eq!(
                    service_error(&err),
                    (Some("NoSuchKey".to_owned()), Some(404))
                );
                assert_eq!(wire.sent("get_object"), call, "one request per call");
            }
            // Never created (the name is still removed at the end, if it exists).
            let gone = Objects::new(wire.client().clone(), &wire.bucket_name("gone"), strict);
            let err = gone.get("k").await.unwrap_err();
            assert_eq!(wire.sent("get_object"), 4);
            assert_eq!(
                service_error(&err),
                (Some("NoSuchBucket".to_owned()), Some(404))
            );
            let err = gone.put("k", b"x").await.unwrap_err();
            assert_eq!(
                service_error(&err),
                (Some("NoSuchBucket".to_owned()), Some(404))
            );
            assert_eq!(wire.sent("put_object"), 1);

            for circuit in [
                objects.download_circuit(),
                gone.download_circuit(),
                gone.upload_circuit(),
            ] {
                assert_eq!(circuit.state(), CircuitState::Closed, "{}", circuit.name());
            }
            objects.put("k", b"x").await.unwrap();
            assert_eq!(objects.get("k").await.unwrap(), b"x");
        })
        .await;
}
