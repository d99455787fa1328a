// The expansion of async-block-unseen-macro.rs, written by `S3_OPS_SNAPSHOTS=overwrite cargo test`.

async fn archive(&self, key: &str) -> Result<(), S3Error> {
    use ::s3_ops_runtime::__private as __s3_ops;
    static __S3_OPS_SITE: __s3_ops::Site = __s3_ops::site(
        "copy_object",
        __s3_ops::OperationClass::Upload.default_policy(),
        0u64,
        0u64,
    );
    let mut __s3_ops_call = match __s3_ops::Call::begin(
        &__S3_OPS_SITE,
        __s3_ops::bucket(&(self.bucket)),
        __s3_ops::circuit(&(self.upload_circuit)),
    ) {
        __s3_ops::ResultOk(__s3_ops_call) => __s3_ops_call,
        __s3_ops::ResultErr(__s3_ops_refused) => return __s3_ops_refused,
    };
    loop {
        let __s3_ops_result = async {
            #[allow(
                unreachable_code,
                clippy::diverging_sub_expression,
                clippy::let_unit_value,
                clippy::empty_loop,
                clippy::needless_return
            )]
            if false {
                let __s3_ops_fake_return: Result<(), S3Error> = loop {};
                return __s3_ops_fake_return;
            }
            ensure!(! key.is_empty(), S3Error::service("EmptyKey", Some(400)));
            let target = format!("archive/{key}");
            self.client
                .copy_object()
                .bucket(&self.bucket)
                .copy_source(format!("{}/{key}", self.bucket))
                .key(target)
                .send()
                .await?;
            Ok(())
        }
            .await;
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
