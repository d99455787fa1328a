//! The expiry sweep that catches what per-job cleanups left behind.

use std::time::Duration;

use s3_ops_examples::S3CleanupService;

pub(crate) async fn run(cleanup: &S3CleanupService, leftovers: &[(String, String)]) {
    println!(
        "  per-job cleanups that left files behind: {}",
        leftovers.len()
    );
    for (job_id, why) in leftovers {
        println!("    {job_id}: {why}");
    }
    // A real sweeper runs every hour or so with `older_than` = a day; here every file counts.
    let older_than = Duration::ZERO;
    match cleanup.list_temp_files(older_than).await {
        Ok(files) => {
            let bytes: u64 = files.iter().map(|f| f.size).sum();
            println!(
                "  list_temp_files(older than {}s): {} files, {bytes} bytes",
                older_than.as_secs(),
                files.len()
            );
        }
        Err(err) => println!("  list_temp_files failed: {err}"),
    }
    let swept = cleanup.cleanup_expired_temp_files(older_than).await;
    println!(
        "  cleanup_expired_temp_files(older than {}s): {} deleted, {} bytes freed, {} errors{}",
        older_than.as_secs(),
        swept.files_deleted,
        swept.bytes_freed,
        swept.errors.len(),
        swept
            .stopped
            .map(|why| format!(", stopped: {why}"))
            .unwrap_or_default()
    );
}
