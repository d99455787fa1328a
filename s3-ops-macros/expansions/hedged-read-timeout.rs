// A `hedge` and a `timeout`: each of the two attempts carries the attempt's time limit.
#[s3_operation(class = "download", op = "get_object", bucket = self.bucket, hedge = "50ms", timeout = "2s")]
async fn download(&self, key: &str) -> Result<Vec<u8>, S3Error> {
    let out = self.client.get_object().bucket(&self.bucket).key(key).send().await?;
    Ok(out.body.collect().await?.to_vec())
}
