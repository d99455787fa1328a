//! Nothing lost: uploads of random sizes (0 B to 1 MiB, random bytes) under transient faults at
//! the wire. Every upload a call reported as done reads back byte for byte, through the
//! service and through a separate plain client; no failure is reported as a success and none
//! leaves an object behind; a body cut short is an error, never a truncated success; and after
//! `cleanup_temp_files_for_job` nothing of the job remains.

use std::sync::Arc;

use s3_ops_examples::{S3CleanupService, StorageConfig, StorageService};
use s3_ops_runtime::{BreakerConfig, Classify, ErrorClass, S3ErrorKind};
use s3_ops_testkit::{FaultCode, Faults};

use crate::services::Objects;
use crate::target::{chain, Wire};

const MIB: usize = 1 << 20;

/// A transient fault for the next request of an operation.
#[derive(Clone, Copy, Debug)]
enum Fault {
    Code(FaultCode),
    Drop,
}

impl Fault {
    fn queue(self, faults: &Faults, op: &'static str) {
        match self {
            Fault::Code(code) => faults.fail_next(op, code, 1),
            Fault::Drop => faults.drop_connection_next(op, 1),
        }
    }
}

/// What the successive attempts of one upload meet, in turn. With 3 attempts, the last two
/// scripts fail the call.
const SCRIPTS: [&[Fault]; 6] = [
    &[],
    &[Fault::Code(FaultCode::SlowDown)],
    &[Fault::Code(FaultCode::InternalError), Fault::Drop],
    &[Fault::Drop],
    &[
        Fault::Code(FaultCode::SlowDown),
        Fault::Code(FaultCode::InternalError),
        Fault::Code(FaultCode::ServiceUnavailable),
    ],
    &[Fault::Drop, Fault::Code(FaultCode::SlowDown), Fault::Drop],
];

/// Uploads one after the other (each with a known fault script), then in parallel.
const SEQUENTIAL: usize = 12;
const PARALLEL: usize = 10;

/// One upload and what its call answered.
struct Upload {
    key: String,
    data: Vec<u8>,
    ok: bool,
}

#[tokio::test]
async fn nothing_lost_under_transient_faults() {
    Wire::embedded("nothing_lost_faults")
        .await
        .run(|wire| async move { nothing_lost(&wire, true).await })
        .await;
}

#[tokio::test]
async fn nothing_lost_on_the_selected_server() {
    Wire::selected("nothing_lost_selected")
        .await
        .run(|wire| async move { nothing_lost(&wire, false).await })
        .await;
}

/// The scenario; with `inject`, under faults (embedded server only).
async fn nothing_lost(wire: &Arc<Wire>, inject: bool) {
    let bucket = wire.create_bucket("b").await;
    let faults = inject.then(|| wire.faults().clone());
    // Thresholds high enough that the failures scripted here never open the circuits: this
    // test is about data, the breaker has its own.
    let objects = Arc::new(Objects::new(
        wire.client().clone(),
        &bucket,
        BreakerConfig {
            failure_threshold: 1000,
            ..BreakerConfig::default()
        },
    ));
    let mut rng = wire.rng(1);
    let job = format!("job-{:08x}", rng.next_u64() as u32);
    let mut uploads = Vec::new();

    // One after the other, each upload meeting a known script of faults.
    for i in 0..SEQUENTIAL {
        let size = match i {
            0 => 0,
            1 => 1,
            2 => MIB,
            _ => rng.below_or_eq(MIB),
        };
        let key = format!("temp/{job}/seq-{i:02}.bin");
        let data = rng.bytes(size);
        let script = if inject {
            SCRIPTS[i % SCRIPTS.len()]
        } else {
            &[]
        };
        let received = wire.received("put_object");
        let sent = wire.sent("put_object");
        if let Some(faults) = &faults {
            for fault in script {
                fault.queue(faults, "put_object");
            }
        }
        let result = objects.put(&key, &data).await;

        let attempts = (script.len() + 1).min(3) as u64;
        assert_eq!(
            wire.sent("put_object") - sent,
            attempts,
            "{key}: {script:?}"
        );
        if let (Some(faults), Some(before)) = (&faults, received) {
            assert_eq!(faults.requests("put_object") - before, attempts, "{key}");
            assert_eq!(faults.pending(), 0, "{key}: a scripted fault was not met");
        }
        match (&result, script.len() < 3) {
            (Ok(()), true) => {}
            (Err(err), false) => {
                assert_eq!(err.classify(), ErrorClass::Transient, "{key}: {err}");
                match script.last() {
                    Some(Fault::Code(code)) => assert_eq!(err.code(), Some(code.code())),
                    _ => assert_eq!(err.kind(), S3ErrorKind::Dispatch, "{key}: {err}"),
                }
            }
            (result, _) => panic!("{key}: {script:?} gave {result:?}"),
        }
        uploads.push(Upload {
            key,
            data,
            ok: result.is_ok(),
        });
    }

    // In parallel, with a share of the requests failing at random.
    let (injected, received) = match &faults {
        Some(faults) => {
            faults.fail_rate("put_object", FaultCode::InternalError, 0.3);
            (
                faults.injected().internal_error,
                faults.requests("put_object"),
            )
        }
        None => (0, 0),
    };
    let sent = wire.sent("put_object");
    let tasks: Vec<_> = (0..PARALLEL)
        .map(|i| {
            let key = format!("temp/{job}/par-{i:02}.bin");
            let size = rng.below_or_eq(MIB);
            let data = rng.bytes(size);
            let objects = objects.clone();
            tokio::spawn(async move {
                let result = objects.put(&key, &data).await;
                (key, data, result)
            })
        })
        .collect();
    let mut parallel_ok = 0;
    for task in tasks {
        let (key, data, result) = task.await.unwrap();
        if let Err(err) = &result {
            assert!(inject, "{key} failed without faults: {}", chain(err));
            assert_eq!(err.code(), Some("InternalError"), "{key}: {err}");
        }
        parallel_ok += u64::from(result.is_ok());
        uploads.push(Upload {
            key,
            data,
            ok: result.is_ok(),
        });
    }
    let sent = wire.sent("put_object") - sent;
    if let Some(faults) = &faults {
        faults.fail_rate("put_object", FaultCode::InternalError, 0.0);
        let injected = faults.injected().internal_error - injected;
        assert!(
            injected > 0,
            "the random faults never fired: the phase proves nothing"
        );
        // Each call made one request per injected failure, plus the one that succeeded: no
        // call reported success without a successful request, none made extra requests.
        assert_eq!(sent, injected + parallel_ok);
        assert_eq!(faults.requests("put_object") - received, sent);
    } else {
        assert_eq!((sent, parallel_ok), (PARALLEL as u64, PARALLEL as u64));
    }

    // The example's service stores the job's document in the same bucket, through one dropped
    // connection when faults are on (its backoff is the original recipe's 1 s: one retry only).
    let storage = StorageService::new(
        wire.client().clone(),
        wire.endpoint(),
        StorageConfig {
            temp_bucket: bucket.clone(),
            results_bucket: bucket.clone(),
            ..StorageConfig::default()
        },
    );
    let size = 100 + rng.below_or_eq(MIB - 100);
    let document = rng.bytes(size);
    if let Some(faults) = &faults {
        faults.drop_connection_next("put_object", 1);
    }
    let document_key = storage
        .store_document(&job, document.clone(), "application/pdf")
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    assert_eq!(
        storage.download_temp_file(&document_key).await.unwrap(),
        document
    );
    uploads.push(Upload {
        key: document_key,
        data: document,
        ok: true,
    });
    // Another job whose id extends this one's: cleanup must spare it.
    let neighbour = format!("temp/{job}0.pdf");
    wire.put_plain(&bucket, &neighbour, b"neighbour".to_vec())
        .await;

    // Everything reported done reads back whole through the service, each read meeting a cut
    // body, a throttle or nothing.
    for (i, upload) in uploads.iter().filter(|u| u.ok).enumerate() {
        if let Some(faults) = &faults {
            match i % 3 {
                0 => faults.cut_body_next("get_object", 1),
                1 => faults.fail_next("get_object", FaultCode::SlowDown, 1),
                _ => {}
            }
        }
        let read = objects
            .get(&upload.key)
            .await
            .unwrap_or_else(|e| panic!("{}: {}", upload.key, chain(&e)));
        assert!(read == upload.data, "{} read back differs", upload.key);
        if let Some(faults) = &faults {
            assert_eq!(faults.pending(), 0);
        }
    }
    if let Some(faults) = &faults {
        assert!(faults.injected().cut_bodies > 0);
        faults.clear();
    }

    // And through a client that has nothing to do with s3-ops; a failed upload left nothing.
    for upload in &uploads {
        let stored = wire.read_plain(&bucket, &upload.key).await;
        if upload.ok {
            assert!(
                stored.as_ref() == Some(&upload.data),
                "{} differs",
                upload.key
            );
        } else {
            assert_eq!(
                stored, None,
                "{}: a failed upload left an object",
                upload.key
            );
        }
    }
    let mut expected: Vec<String> = uploads
        .iter()
        .filter(|u| u.ok)
        .map(|u| u.key.clone())
        .chain([neighbour.clone()])
        .collect();
    expected.sort_unstable();
    let prefix = format!("temp/{job}");
    assert_eq!(wire.list_keys(&bucket, &prefix).await, expected);
    let stored = expected.len() - 1;
    eprintln!(
        "nothing lost: {stored} objects stored, {} uploads failed as reported",
        uploads.len() - stored
    );

    let cleanup = S3CleanupService::new(wire.client().clone(), &bucket)
        .with_page_size(7)
        .with_batch_size(10);
    let report = cleanup.cleanup_temp_files_for_job(&job).await;
    assert!(report.is_complete(), "{report:?}");
    assert_eq!((report.found, report.deleted), (stored, stored));
    assert_eq!(wire.list_keys(&bucket, &prefix).await, [neighbour]);
}

#[tokio::test]
async fn a_cut_body_is_an_error_never_a_truncated_success() {
    Wire::embedded("cut_body")
        .await
        .run(|wire| async move {
            let bucket = wire.create_bucket("b").await;
            let objects = Objects::new(wire.client().clone(), &bucket, BreakerConfig::default());
            let faults = wire.faults();
            let data = wire.rng(1).bytes(256 * 1024);
            wire.put_plain(&bucket, "k", data.clone()).await;

            // One attempt: the cut body is the call's error.
            faults.cut_body_next("get_object", 1);
            let err = objects.get_once("k").await.unwrap_err();
            assert_eq!(err.kind(), S3ErrorKind::Response, "{err}");
            assert_eq!(err.classify(), ErrorClass::Transient);
            assert_eq!(faults.injected().cut_bodies, 1);
            assert_eq!(faults.requests("get_object"), 1);

            // With retries: the next attempt reads it whole.
            faults.cut_body_next("get_object", 2);
            assert!(objects.get("k").await.unwrap() == data);
            assert_eq!(faults.injected().cut_bodies, 3);
            assert_eq!(faults.requests("get_object"), 4);

            // Cut on every attempt: still an error, never what arrived.
            faults.cut_body_next("get_object", 3);
            let err = objects.get("k").await.unwrap_err();
            assert_eq!(err.kind(), S3ErrorKind::Response, "{err}");
            assert_eq!(faults.requests("get_object"), 7);
        })
        .await;
}
