// a return type that is not a `Result` is rejected at the return type
use s3_ops_runtime::{s3_operation, CircuitBreaker};

struct Service {
    download_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "download", op = "get_object")]
    async fn get(&self, key: &str) -> Option<String> {
        Some(key.to_owned())
    }
}

fn main() {
    let service = Service {
        download_circuit: CircuitBreaker::new("s3-download"),
    };
    drop(service.get("key"));
}
