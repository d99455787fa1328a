// The body keeps its control flow: `?` and an early `return` end the attempt with the method's
// type, loops with `break` / `continue`, closures and nested `async` blocks with a `return` of
// their own, and items declared in the body.
#![deny(warnings, unused_qualifications)]

use ::s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};
use s3_ops_ui_tests::{assert_send, client};

mod core {}
mod s3_ops_runtime {}

struct Service {
    client: aws_sdk_s3::Client,
    bucket: String,
    upload_circuit: CircuitBreaker,
    download_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "download", op = "list_objects_v2", bucket = self.bucket)]
    async fn first_large(&self, min_size: i64) -> Result<Option<String>, S3Error> {
        const PAGE: i32 = 100;

        fn is_hidden(key: &str) -> bool {
            key.starts_with('.')
        }

        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .max_keys(PAGE)
                .set_continuation_token(token)
                .send()
                .await?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                if is_hidden(key) {
                    continue;
                }
                if object.size().unwrap_or_default() >= min_size {
                    return Ok(Some(key.to_owned()));
                }
            }
            token = page.next_continuation_token;
            if token.is_none() {
                break;
            }
        }
        Ok(None)
    }

    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket)]
    async fn put_lines(&self, key: &str, lines: &[&str]) -> Result<usize, S3Error> {
        if lines.is_empty() {
            return Ok(0);
        }
        let body: Vec<u8> = lines
            .iter()
            .flat_map(|line| {
                if line.is_empty() {
                    return Vec::new();
                }
                format!("{line}\n").into_bytes()
            })
            .collect();
        let len = body.len();
        let sent = async {
            // This `return` ends the inner block only.
            if len == 0 {
                return Ok(());
            }
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .body(body.into())
                .send()
                .await
                .map(drop)
        };
        sent.await?;
        Ok(len)
    }
}

// `pub(crate)`: `tests/ui.rs` also compiles this file as a module and calls it.
pub(crate) fn main() {
    let service = Service {
        client: client(),
        bucket: "results".to_owned(),
        upload_circuit: CircuitBreaker::new("s3-upload"),
        download_circuit: CircuitBreaker::new("s3-download"),
    };
    assert_send(service.first_large(1024));
    assert_send(service.put_lines("key", &["a", "b"]));
}
