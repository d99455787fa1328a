// `bucket` must borrow as `&str`; another type is reported at the expression
use s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};

struct Service {
    bucket_id: u32,
    upload_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket_id)]
    async fn put(&self) -> Result<(), S3Error> {
        Ok(())
    }
}

fn main() {
    let service = Service {
        bucket_id: 7,
        upload_circuit: CircuitBreaker::new("s3-upload"),
    };
    drop(service.put());
}
