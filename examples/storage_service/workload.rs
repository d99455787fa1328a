//! The workload: documents through store → download (compared byte for byte) → result →
//! two images → existence check → job cleanup, several in flight, with transient faults
//! injected on the embedded server along the way.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use s3_ops_examples::{ResultFormat, S3CleanupService, StorageError, StorageService};
use s3_ops_runtime::metrics;
use s3_ops_testkit::{FaultCode, Faults};
use tokio::task::JoinSet;

use crate::latency::Latencies;

/// A transient fault injected when a given share of the documents has been started.
struct Injection {
    at_percent: usize,
    what: &'static str,
    inject: fn(&Faults),
}

const SCHEDULE: [Injection; 6] = [
    Injection {
        at_percent: 10,
        what: "the next put_object answers 503 SlowDown",
        inject: |f| f.fail_next("put_object", FaultCode::SlowDown, 1),
    },
    Injection {
        at_percent: 25,
        what: "the next get_object body is cut off half-way",
        inject: |f| f.cut_body_next("get_object", 1),
    },
    Injection {
        at_percent: 40,
        what: "the next put_object answers 500 InternalError",
        inject: |f| f.fail_next("put_object", FaultCode::InternalError, 1),
    },
    Injection {
        at_percent: 55,
        what: "the next head_object connection is closed without an answer",
        inject: |f| f.drop_connection_next("head_object", 1),
    },
    Injection {
        at_percent: 70,
        what: "the next get_object answers 503 ServiceUnavailable",
        inject: |f| f.fail_next("get_object", FaultCode::ServiceUnavailable, 1),
    },
    Injection {
        at_percent: 85,
        what: "the next delete_objects answers 500 InternalError (cleanup makes one attempt)",
        inject: |f| f.fail_next("delete_objects", FaultCode::InternalError, 1),
    },
];

/// The operations the storage service retries, for the running count of retries.
const RETRIED_OPERATIONS: [&str; 3] = ["put_object", "get_object", "head_object"];

/// What the workload did.
pub(crate) struct Outcome {
    pub(crate) documents: usize,
    /// Documents that went all the way through, their download byte-identical to the upload.
    pub(crate) verified: usize,
    pub(crate) bytes: u64,
    /// `(job id, what failed)`.
    pub(crate) failed: Vec<(String, String)>,
    /// `(job id, why)`: jobs whose cleanup left temporary files behind.
    pub(crate) leftovers: Vec<(String, String)>,
    pub(crate) faults_injected: usize,
}

/// One document's successful trip.
struct Done {
    bytes: usize,
    leftover: Option<String>,
}

/// What the workload runs on.
pub(crate) struct Setup<'a> {
    pub(crate) storage: &'a StorageService,
    pub(crate) cleanup: &'a S3CleanupService,
    /// The embedded server's faults; `None` on an external server (nothing is injected).
    pub(crate) faults: Option<&'a Faults>,
    pub(crate) latencies: &'a Arc<Latencies>,
    /// The program's start, for the `t=` of the progress lines.
    pub(crate) clock: Instant,
}

pub(crate) async fn run(setup: &Setup<'_>, documents: usize, concurrency: usize) -> Outcome {
    let started = Instant::now();
    let progress_every = documents.div_ceil(6);
    let mut outcome = Outcome {
        documents,
        verified: 0,
        bytes: 0,
        failed: Vec::new(),
        leftovers: Vec::new(),
        faults_injected: 0,
    };
    let mut in_flight = JoinSet::new();
    let mut next = 0;
    let mut finished = 0;
    while finished < documents {
        while next < documents && in_flight.len() < concurrency {
            if let Some(faults) = setup.faults {
                outcome.faults_injected += inject_due(faults, next, documents);
            }
            let job_id = format!("job-{next:05}");
            let trip = process(
                next,
                job_id.clone(),
                setup.storage.clone(),
                setup.cleanup.clone(),
                Arc::clone(setup.latencies),
            );
            in_flight.spawn(async move { (job_id, trip.await) });
            next += 1;
        }
        let Some(joined) = in_flight.join_next().await else {
            break;
        };
        finished += 1;
        match joined {
            Ok((job_id, Ok(done))) => {
                outcome.verified += 1;
                outcome.bytes += done.bytes as u64;
                if let Some(why) = done.leftover {
                    outcome.leftovers.push((job_id, why));
                }
            }
            Ok((job_id, Err(failure))) => outcome.failed.push((job_id, failure)),
            Err(panic) => outcome.failed.push(("?".into(), panic.to_string())),
        }
        if finished % progress_every == 0 || finished == documents {
            println!(
                "  t={:5.2}s  [{finished:>5}/{documents}]  {:>4.0} docs/s  retries so far: {}  failed: {}",
                setup.clock.elapsed().as_secs_f64(),
                finished as f64 / started.elapsed().as_secs_f64(),
                retries_so_far(),
                outcome.failed.len()
            );
        }
    }
    outcome
}

/// Injects the faults due when document `index` starts; how many.
fn inject_due(faults: &Faults, index: usize, documents: usize) -> usize {
    let due: Vec<_> = SCHEDULE
        .iter()
        .filter(|i| documents * i.at_percent / 100 == index)
        .collect();
    for injection in &due {
        (injection.inject)(faults);
        println!("  ! fault at document {index}: {}", injection.what);
    }
    due.len()
}

fn retries_so_far() -> u64 {
    RETRIED_OPERATIONS
        .iter()
        .flat_map(|op| (2..=3).map(move |attempt| metrics::retry_attempts_total(op, attempt)))
        .sum()
}

/// One document's trip through both services.
async fn process(
    index: usize,
    job_id: String,
    storage: StorageService,
    cleanup: S3CleanupService,
    latencies: Arc<Latencies>,
) -> Result<Done, String> {
    let lat = &latencies;
    let fail = |step: &'static str| move |err: StorageError| format!("{step}: {err}");

    let document = fake_pdf(index);
    let key = lat
        .time(
            "store_document",
            storage.store_document(&job_id, document.clone(), "application/pdf"),
        )
        .await
        .map_err(fail("store_document"))?;
    let read = lat
        .time("download_temp_file", storage.download_temp_file(&key))
        .await
        .map_err(fail("download_temp_file"))?;
    if read != document {
        return Err(format!(
            "download_temp_file: read back {} bytes that differ from the {} stored",
            read.len(),
            document.len()
        ));
    }

    let markdown = format!(
        "# {job_id}\n\nExtracted from a {} byte document.\n",
        document.len()
    );
    let result_key = lat
        .time(
            "upload_result",
            storage.upload_result(&job_id, &markdown, ResultFormat::Markdown),
        )
        .await
        .map_err(fail("upload_result"))?;
    for page in 1..=2 {
        lat.time(
            "upload_image",
            storage.upload_image(&job_id, &format!("page-{page}.png"), fake_png(index, page)),
        )
        .await
        .map_err(fail("upload_image"))?;
    }

    let exists = lat
        .time("file_exists", storage.file_exists(&result_key))
        .await
        .map_err(fail("file_exists"))?;
    if !exists {
        return Err(format!(
            "file_exists: {result_key} was written but is missing"
        ));
    }

    let report = lat
        .time(
            "cleanup_temp_files_for_job",
            cleanup.cleanup_temp_files_for_job(&job_id),
        )
        .await;
    let leftover = (!report.is_complete()).then(|| match report.errors.first() {
        Some(failure) => format!(
            "{} not deleted: {}",
            failure.key,
            failure.code.as_deref().unwrap_or("no answer")
        ),
        None => report
            .stopped
            .as_ref()
            .map_or_else(String::new, ToString::to_string),
    });
    Ok(Done {
        bytes: document.len(),
        leftover,
    })
}

/// A PDF-looking document of 2 to 64 KiB, different for each index.
fn fake_pdf(index: usize) -> Bytes {
    let len = 2048 + index * 7919 % (62 * 1024);
    let mut data = Vec::with_capacity(len);
    data.extend_from_slice(b"%PDF-1.7\n");
    noise(&mut data, index as u64, len - 16);
    data.extend_from_slice(b"\n%%EOF\n");
    data.into()
}

/// A PNG-looking image of 1 to 8 KiB.
fn fake_png(index: usize, page: usize) -> Bytes {
    let mut data = b"\x89PNG\r\n\x1a\n".to_vec();
    noise(
        &mut data,
        (index * 3 + page) as u64,
        1024 + (index * 131 + page * 977) % 7168,
    );
    data.into()
}

/// Appends pseudo-random bytes (xorshift) until `data` is `len` long.
fn noise(data: &mut Vec<u8>, seed: u64, len: usize) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while data.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes()[..(len - data.len()).min(8)]);
    }
}
