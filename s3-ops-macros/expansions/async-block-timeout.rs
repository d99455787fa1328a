// A `timeout`: the attempt is an `async` block the runtime can drop, behind a fake return edge
// that fixes its type.
#[s3_operation(class = "download", op = "get_object", bucket = self.bucket, timeout = "5s")]
async fn download(&self, key: &str) -> Result<Vec<u8>, S3Error> {
    let out = self.client.get_object().bucket(&self.bucket).key(key).send().await?;
    Ok(out.body.collect().await?.to_vec())
}
