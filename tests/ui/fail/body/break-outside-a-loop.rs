// a `break` outside the body's own loops would leave the retry loop; it is rejected as in a plain method
use s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};

struct Service {
    upload_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "upload", op = "put_object")]
    async fn put(&self, skip: bool) -> Result<(), S3Error> {
        if skip {
            break;
        }
        Ok(())
    }
}

fn main() {
    let service = Service {
        upload_circuit: CircuitBreaker::new("s3-upload"),
    };
    drop(service.put(true));
}
