// `deadline` needs `From<AttemptTimeout>` on the error type: an attempt still running at the deadline fails as a timeout
use s3_ops_runtime::{s3_operation, CircuitBreaker, CircuitOpen, Classify, ErrorClass, S3Error};

enum UploadError {
    S3(S3Error),
}

impl From<CircuitOpen> for UploadError {
    fn from(open: CircuitOpen) -> Self {
        UploadError::S3(open.into())
    }
}

impl Classify for UploadError {
    fn classify(&self) -> ErrorClass {
        match self {
            UploadError::S3(err) => err.classify(),
        }
    }
}

struct Service {
    upload_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "upload", op = "put_object", deadline = "10s")]
    async fn put(&self, key: &str) -> Result<usize, UploadError> {
        Ok(key.len())
    }
}

fn main() {
    let service = Service {
        upload_circuit: CircuitBreaker::new("s3-upload"),
    };
    drop(service.put("key"));
}
