// the error type must implement `Classify`, which decides what is retried
use s3_ops_runtime::{s3_operation, CircuitBreaker, CircuitOpen};

enum DownloadError {
    Missing,
    Refused(CircuitOpen),
}

impl From<CircuitOpen> for DownloadError {
    fn from(open: CircuitOpen) -> Self {
        DownloadError::Refused(open)
    }
}

struct Service {
    download_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "download", op = "get_object")]
    async fn get(&self, key: &str) -> Result<Vec<u8>, DownloadError> {
        if key.is_empty() {
            return Err(DownloadError::Missing);
        }
        Ok(Vec::new())
    }
}

fn main() {
    let service = Service {
        download_circuit: CircuitBreaker::new("s3-download"),
    };
    drop(service.get("key"));
}
