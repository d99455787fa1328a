// Names the user's module may define do not capture the expansion: `core`, `std`,
// `s3_ops_runtime`, the prelude's `Ok` / `Err` / `Some` / `None` / `Option` / `Result`,
// `Send` / `Sync` / `Box`, a `Duration`, `unreachable!`, and constants named like the bindings
// an expansion might use (`call`, `open`, `result`, `delay`), which would turn them into patterns.
#![deny(warnings, unused_qualifications)]

mod core {}
mod std {}
mod s3_ops_runtime {}

// Glob-imported names shadow the prelude's.
#[allow(dead_code, non_camel_case_types, non_snake_case)]
mod shadows {
    pub(crate) struct Ok;
    pub(crate) struct Err;
    pub(crate) struct Some;
    pub(crate) struct None;
    pub(crate) struct Option;
    pub(crate) struct Result;
    pub(crate) trait Send {}
    pub(crate) trait Sync {}
    pub(crate) struct Box;
    pub(crate) struct Duration;
}

#[allow(unused_imports)]
use shadows::*;
use s3_ops_ui_tests::{assert_send, client};

// A constant in scope turns a same-named binding in a `match` arm into a pattern.
#[allow(dead_code, non_upper_case_globals)]
const call: u8 = 0;
#[allow(dead_code, non_upper_case_globals)]
const open: u8 = 0;
#[allow(dead_code, non_upper_case_globals)]
const result: u8 = 0;
#[allow(dead_code, non_upper_case_globals)]
const delay: u8 = 0;

#[allow(unused_macros)]
macro_rules! unreachable {
    () => {
        compile_error!("the expansion called the user's `unreachable!`")
    };
}

struct Service {
    client: aws_sdk_s3::Client,
    bucket: ::std::string::String,
    upload_circuit: ::s3_ops_runtime::CircuitBreaker,
    download_circuit: ::s3_ops_runtime::CircuitBreaker,
}

impl Service {
    #[::s3_ops_runtime::s3_operation(class = "upload", op = "put_object", bucket = self.bucket, timeout = "1s")]
    async fn put(&self, key: &str) -> ::core::result::Result<(), ::s3_ops_runtime::S3Error> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        ::core::result::Result::Ok(())
    }

    #[::s3_ops_runtime::s3_operation(class = "download", op = "head_object", bucket = self.bucket)]
    async fn size(
        &self,
        key: &str,
    ) -> ::core::result::Result<::core::option::Option<i64>, ::s3_ops_runtime::S3Error> {
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        ::core::result::Result::Ok(head.content_length())
    }

    #[::s3_ops_runtime::s3_operation(class = "cleanup", op = "delete_object", bucket = self.bucket)]
    async fn delete(&self, key: &str) -> ::core::result::Result<(), ::s3_ops_runtime::S3Error> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        ::core::result::Result::Ok(())
    }
}

// `pub(crate)`: `tests/ui.rs` also compiles this file as a module and calls it.
pub(crate) fn main() {
    let service = Service {
        client: client(),
        bucket: "results".into(),
        upload_circuit: ::s3_ops_runtime::CircuitBreaker::new("s3-upload"),
        download_circuit: ::s3_ops_runtime::CircuitBreaker::new("s3-download"),
    };
    assert_send(service.put("key"));
    assert_send(service.size("key"));
    assert_send(service.delete("key"));
}
