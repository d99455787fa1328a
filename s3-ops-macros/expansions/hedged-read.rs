// A `hedge`: the attempt and its twin, one `async` block built twice, raced by the call.
#[s3_operation(class = "download", op = "get_object", bucket = self.bucket, hedge = "p95")]
async fn download(&self, key: &str) -> Result<Vec<u8>, S3Error> {
    let out = self.client.get_object().bucket(&self.bucket).key(key).send().await?;
    Ok(out.body.collect().await?.to_vec())
}
