//! Handing results out: checking one exists, then a plain object URL and a presigned one,
//! fetched without the SDK.

use std::error::Error;
use std::time::Duration;

use s3_ops_examples::{keys, ResultFormat, StorageService};

use crate::http;

/// Shows both URLs of `job_id`'s Markdown result; fetches them when the server speaks plain
/// HTTP (the embedded one does).
pub(crate) async fn run(storage: &StorageService, job_id: &str) -> Result<(), Box<dyn Error>> {
    let key = keys::result(job_id, ResultFormat::Markdown);
    let plain = storage.result_url(&key);
    let presigned = storage
        .presigned_get_url(&key, Duration::from_secs(15 * 60))
        .await?;
    let never_written = keys::result(job_id, ResultFormat::Json);
    match storage.file_exists(&never_written).await {
        Ok(exists) => println!(
            "  file_exists({never_written}) -> {exists} (a 404 is an answer: a success for the \
             metrics and the breaker, not retried)"
        ),
        Err(err) => println!("  file_exists({never_written}) failed: {err}"),
    }
    println!("  result_url         {plain}");
    println!("  presigned_get_url  {}", elide(&presigned, 100));
    if !plain.starts_with("http://") {
        return Ok(());
    }
    let anonymous = http::get(&plain).await?;
    println!(
        "  GET result_url without credentials:        HTTP {} (the bucket is private; a public-read policy or a CDN would serve it)",
        anonymous.status
    );
    let signed = http::get(&presigned).await?;
    let first_line = String::from_utf8_lossy(&signed.body);
    println!(
        "  GET presigned_get_url without credentials: HTTP {}, {} bytes: {:?}",
        signed.status,
        signed.body.len(),
        first_line.lines().next().unwrap_or_default()
    );
    Ok(())
}

fn elide(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &s[..cut]),
        None => s.to_owned(),
    }
}
