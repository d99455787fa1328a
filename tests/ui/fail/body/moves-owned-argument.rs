// the body runs once per attempt, so it cannot move an owned argument; the error points at the move in the body
use s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};

struct Service {
    client: aws_sdk_s3::Client,
    upload_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "upload", op = "put_object", bucket = "results")]
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), S3Error> {
        self.client
            .put_object()
            .bucket("results")
            .key(key)
            .body(body.into())
            .send()
            .await?;
        Ok(())
    }
}

fn main() {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .build();
    let service = Service {
        client: aws_sdk_s3::Client::from_conf(config),
        upload_circuit: CircuitBreaker::new("s3-upload"),
    };
    drop(service.put("key", Vec::new()));
}
