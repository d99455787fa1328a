// A typical upload: `?` and an early `return` leave the inline attempt's labeled block.
#[s3_operation(class = "upload", op = "put_object", bucket = self.results_bucket)]
pub async fn upload_result(&self, job_id: &str, content: &[u8]) -> Result<String, S3Error> {
    if content.is_empty() {
        return Err(S3Error::service("EmptyBody", Some(400)));
    }
    let key = ::std::format!("results/{job_id}.md");
    self.client
        .put_object()
        .bucket(&self.results_bucket)
        .key(&key)
        .body(content.to_vec().into())
        .send()
        .await?;
    Ok(key)
}
