// `retry` must borrow as `&RetryPolicy`; another type is reported at the expression
use s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};

struct Service {
    upload_circuit: CircuitBreaker,
    upload_attempts: u32,
}

impl Service {
    #[s3_operation(class = "upload", op = "put_object", retry = self.upload_attempts)]
    async fn put(&self, key: &str) -> Result<usize, S3Error> {
        Ok(key.len())
    }
}

fn main() {
    let service = Service {
        upload_circuit: CircuitBreaker::new("s3-upload"),
        upload_attempts: 5,
    };
    drop(service.put("key"));
}
