// a method without a return type is rejected: it must return a `Result`
use s3_ops_runtime::{s3_operation, CircuitBreaker};

struct Service {
    upload_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "upload", op = "put_object")]
    async fn put(&self) {}
}

fn main() {
    let service = Service {
        upload_circuit: CircuitBreaker::new("s3-upload"),
    };
    drop(service.put());
}
