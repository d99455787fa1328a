// a free function has no `self` to take the class's default breaker from: it must name one with `circuit`
use s3_ops_runtime::{s3_operation, S3Error};

#[s3_operation(class = "upload", op = "put_object")]
async fn put(key: &str) -> Result<usize, S3Error> {
    Ok(key.len())
}

fn main() {
    drop(put("key"));
}
