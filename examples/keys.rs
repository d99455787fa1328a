//! Where a job's objects live. One place, so the storage service that writes them and the
//! cleanup service that deletes them cannot disagree.
//!
//! | object | bucket | key |
//! |---|---|---|
//! | uploaded document | temp | `temp/{job_id}.pdf` |
//! | result | results | `{job_id}.{ext}` |
//! | extracted image | results | `{job_id}/images/{name}` |
//!
//! Temp keys keep the original recipe's `temp/` prefix even in a bucket of their own: an S3 lifecycle
//! rule can then expire the prefix, and both buckets may be the same one.

use crate::format::ResultFormat;

/// The prefix of every temporary object.
pub const TEMP_PREFIX: &str = "temp/";

/// `temp/{job_id}.pdf`: the uploaded document of a job.
pub fn temp_document(job_id: &str) -> String {
    format!("{TEMP_PREFIX}{job_id}.pdf")
}

/// `temp/{job_id}`: the listing prefix of a job's temporary objects. It also matches other
/// jobs whose id starts with this one (`job-1` and `job-10`); filter the listing with
/// [`belongs_to_job`].
pub fn temp_prefix_for_job(job_id: &str) -> String {
    format!("{TEMP_PREFIX}{job_id}")
}

/// `true` when `key` is one of `job_id`'s temporary objects: `temp/{job_id}` followed by `.`
/// (`temp/{job_id}.pdf`) or `/` (`temp/{job_id}/…`). Job ids contain neither character
/// ([`validate::job_id`](crate::validate::job_id)), so `temp/job-10.pdf` does not belong to
/// `job-1`.
pub fn belongs_to_job(key: &str, job_id: &str) -> bool {
    key.strip_prefix(TEMP_PREFIX)
        .and_then(|rest| rest.strip_prefix(job_id))
        .is_some_and(|rest| rest.starts_with(['.', '/']))
}

/// `{job_id}.{ext}`: a job's result.
pub fn result(job_id: &str, format: ResultFormat) -> String {
    format!("{job_id}.{}", format.extension())
}

/// `{job_id}/images/{name}`: an image extracted from a job's document.
pub fn image(job_id: &str, name: &str) -> String {
    format!("{job_id}/images/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        assert_eq!(temp_document("j1"), "temp/j1.pdf");
        assert_eq!(temp_prefix_for_job("j1"), "temp/j1");
        assert_eq!(result("j1", ResultFormat::Markdown), "j1.md");
        assert_eq!(result("j1", ResultFormat::Json), "j1.json");
        assert_eq!(image("j1", "page-1.png"), "j1/images/page-1.png");
    }

    #[test]
    fn a_job_does_not_own_the_keys_of_a_job_whose_id_extends_its_own() {
        assert!(belongs_to_job("temp/job-1.pdf", "job-1"));
        assert!(belongs_to_job("temp/job-1/page-2.png", "job-1"));
        assert!(!belongs_to_job("temp/job-10.pdf", "job-1"));
        assert!(!belongs_to_job("temp/job-1_b.pdf", "job-1"));
        assert!(!belongs_to_job("temp/job-1", "job-1"));
        assert!(!belongs_to_job("job-1.pdf", "job-1"));
        assert!(!belongs_to_job("other/job-1.pdf", "job-1"));
    }
}
