// Macros the attribute cannot see into (a bare `format!` may be the user's own, `ensure!` may
// hold a `return`): the attempt is an `async` block, whose `return` and `?` end it as written.
#[s3_operation(class = "upload", op = "copy_object", bucket = self.bucket)]
async fn archive(&self, key: &str) -> Result<(), S3Error> {
    ensure!(!key.is_empty(), S3Error::service("EmptyKey", Some(400)));
    let target = format!("archive/{key}");
    self.client
        .copy_object()
        .bucket(&self.bucket)
        .copy_source(format!("{}/{key}", self.bucket))
        .key(target)
        .send()
        .await?;
    Ok(())
}
