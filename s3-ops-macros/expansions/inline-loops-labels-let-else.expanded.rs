// The expansion of inline-loops-labels-let-else.rs, written by `S3_OPS_SNAPSHOTS=overwrite cargo test`.

async fn purge(&mut self, prefix: &str) -> Result<usize, S3Error> {
    use ::s3_ops_runtime::__private as __s3_ops;
    static __S3_OPS_SITE: __s3_ops::Site = __s3_ops::site(
        "delete_objects",
        __s3_ops::OperationClass::Cleanup.default_policy(),
        0u64,
        0u64,
    );
    let mut __s3_ops_call = __s3_ops::Call::begin_unguarded(
        &__S3_OPS_SITE,
        __s3_ops::bucket(&(self.bucket)),
    );
    loop {
        let __s3_ops_result: Result<usize, S3Error> = '__s3_ops_attempt: {
            let mut deleted = 0;
            let parse = |text: &str| -> Result<u32, std::num::ParseIntError> {
                Ok(text.parse::<u32>()? + 1)
            };
            'pages: loop {
                let Some(page) = self.pages.pop() else {
                    break '__s3_ops_attempt Ok(deleted);
                };
                for key in page {
                    if !key.starts_with(prefix) {
                        continue;
                    }
                    if key.ends_with(".keep") {
                        break 'pages;
                    }
                    (match self.delete(&key).await {
                        __s3_ops::ResultOk(__s3_ops_value) => __s3_ops_value,
                        __s3_ops::ResultErr(__s3_ops_error) => {
                            break '__s3_ops_attempt __s3_ops::ResultErr(
                                __s3_ops::ConvertFrom::from(__s3_ops_error),
                            );
                        }
                    })
                        .len();
                    deleted += parse("1").unwrap_or(0) as usize;
                }
                match self.pages.len() {
                    0 => break,
                    n if n > 10 => {
                        break '__s3_ops_attempt Err(S3Error::service("TooMany", None));
                    }
                    _ => {}
                }
            }
            Ok(deleted)
        };
        if __s3_ops_call.settle(&__s3_ops_result, __s3_ops::OptionNone) {
            return __s3_ops_result;
        }
        __s3_ops_call.backoff().await;
        if __s3_ops_call.resume(&__s3_ops_result, __s3_ops::OptionNone) {
            return __s3_ops_result;
        }
    }
}
