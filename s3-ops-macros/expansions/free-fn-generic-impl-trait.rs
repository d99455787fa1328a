// A free function with generics, a breaker given as an expression and `impl Trait` in the
// `Ok` type (left to inference in the attempt's `let`).
#[s3_operation(class = "download", op = "get_object", circuit = DOWNLOADS)]
pub(crate) async fn fetch<'a, C>(client: &'a C, key: &'a str) -> Result<impl AsRef<[u8]> + 'a, S3Error>
where
    C: Fetch + Sync,
{
    let bytes = client.fetch(key).await?;
    Ok(bytes)
}
