// a method declaration without a body (in a trait) is rejected: there is no body to retry
use s3_ops_runtime::{s3_operation, S3Error};

trait Store {
    #[s3_operation(class = "upload", op = "put_object")]
    async fn put(&self, key: &str) -> Result<(), S3Error>;
}

fn main() {}
