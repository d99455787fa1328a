// The expansion of inline-question-mark-and-return.rs, written by `S3_OPS_SNAPSHOTS=overwrite cargo test`.

pub async fn upload_result(
    &self,
    job_id: &str,
    content: &[u8],
) -> Result<String, S3Error> {
    use ::s3_ops_runtime::__private as __s3_ops;
    static __S3_OPS_SITE: __s3_ops::Site = __s3_ops::site(
        "put_object",
        __s3_ops::OperationClass::Upload.default_policy(),
        0u64,
        0u64,
    );
    let mut __s3_ops_call = match __s3_ops::Call::begin(
        &__S3_OPS_SITE,
        __s3_ops::bucket(&(self.results_bucket)),
        __s3_ops::circuit(&(self.upload_circuit)),
    ) {
        __s3_ops::ResultOk(__s3_ops_call) => __s3_ops_call,
        __s3_ops::ResultErr(__s3_ops_refused) => return __s3_ops_refused,
    };
    loop {
        let __s3_ops_result: Result<String, S3Error> = '__s3_ops_attempt: {
            if content.is_empty() {
                break '__s3_ops_attempt Err(S3Error::service("EmptyBody", Some(400)));
            }
            let key = ::std::format!("results/{job_id}.md");
            match self
                .client
                .put_object()
                .bucket(&self.results_bucket)
                .key(&key)
                .body(content.to_vec().into())
                .send()
                .await
            {
                __s3_ops::ResultOk(__s3_ops_value) => __s3_ops_value,
                __s3_ops::ResultErr(__s3_ops_error) => {
                    break '__s3_ops_attempt __s3_ops::ResultErr(
                        __s3_ops::ConvertFrom::from(__s3_ops_error),
                    );
                }
            };
            Ok(key)
        };
        if __s3_ops_call
            .settle(&__s3_ops_result, __s3_ops::circuit(&(self.upload_circuit)))
        {
            return __s3_ops_result;
        }
        __s3_ops_call.backoff().await;
        if __s3_ops_call
            .resume(&__s3_ops_result, __s3_ops::circuit(&(self.upload_circuit)))
        {
            return __s3_ops_result;
        }
    }
}
