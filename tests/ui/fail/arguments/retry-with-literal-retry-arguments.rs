// `retry = <expr>` is the whole retry policy: `max_attempts`, `base_delay` and `max_delay` next to it are refused, each at its value
use s3_ops_runtime::{s3_operation, CircuitBreaker, RetryPolicy, S3Error};

struct Service {
    upload_circuit: CircuitBreaker,
    upload_retry: RetryPolicy,
}

impl Service {
    #[s3_operation(class = "upload", op = "put_object", retry = self.upload_retry, max_attempts = 5)]
    async fn put(&self, key: &str) -> Result<usize, S3Error> {
        Ok(key.len())
    }

    #[s3_operation(class = "upload", op = "copy_object", base_delay = "250ms", max_delay = "5s", retry = self.upload_retry)]
    async fn copy(&self, key: &str) -> Result<usize, S3Error> {
        Ok(key.len())
    }
}

fn main() {
    let service = Service {
        upload_circuit: CircuitBreaker::new("s3-upload"),
        upload_retry: RetryPolicy::DEFAULT,
    };
    drop(service.put("key"));
    drop(service.copy("key"));
}
