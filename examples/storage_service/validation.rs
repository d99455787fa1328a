//! Inputs the storage service refuses before any request.

use s3_ops_examples::StorageService;
use s3_ops_runtime::Classify;
use s3_ops_testkit::Faults;

pub(crate) async fn run(storage: &StorageService, faults: Option<&Faults>) {
    let puts = faults.map(|f| f.requests("put_object"));
    let refusals = [
        (
            "a 40-byte PDF",
            storage
                .store_document("job-small", vec![b'%'; 40], "application/pdf")
                .await,
        ),
        (
            "a 51 MiB PDF",
            storage
                .store_document("job-big", vec![0; 51 << 20], "application/pdf")
                .await,
        ),
        (
            "a PNG as a document",
            storage
                .store_document("job-png", vec![0; 4096], "image/png")
                .await,
        ),
        (
            "a job id with a slash",
            storage
                .store_document("../job", vec![0; 4096], "application/pdf")
                .await,
        ),
    ];
    for (what, result) in refusals {
        match result {
            Err(err) => println!("  {what:<22} refused ({:?}): {err}", err.classify()),
            Ok(key) => println!("  {what:<22} UNEXPECTEDLY stored as {key}"),
        }
    }
    match (faults, puts) {
        (Some(faults), Some(before)) => println!(
            "  put_object requests made: {} (Local errors are never retried and never touch the breaker)",
            faults.requests("put_object") - before
        ),
        _ => println!("  no request made: validation runs before the annotated call"),
    }
}
