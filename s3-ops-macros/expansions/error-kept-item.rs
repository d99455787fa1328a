// Bad arguments: every error at once, as `compile_error!`s next to the method left as written.
#[s3_operation(class = "uplaod", op = "put_objekt", max_attempts = 0, timeout = "99999999999999999999h")]
async fn store(&self, key: &str) -> Result<(), S3Error> {
    self.client.put_object().key(key).send().await?;
    Ok(())
}
