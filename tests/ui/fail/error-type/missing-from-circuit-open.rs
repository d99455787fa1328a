// an upload's error type must be able to say that the circuit is open: `From<CircuitOpen>`
use s3_ops_runtime::{s3_operation, CircuitBreaker, Classify, ErrorClass};

enum UploadError {
    Rejected,
}

impl Classify for UploadError {
    fn classify(&self) -> ErrorClass {
        match self {
            UploadError::Rejected => ErrorClass::Client,
        }
    }
}

struct Service {
    upload_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "upload", op = "put_object")]
    async fn put(&self, key: &str) -> Result<(), UploadError> {
        if key.is_empty() {
            return Err(UploadError::Rejected);
        }
        Ok(())
    }
}

fn main() {
    let service = Service {
        upload_circuit: CircuitBreaker::new("s3-upload"),
    };
    drop(service.put("key"));
}
