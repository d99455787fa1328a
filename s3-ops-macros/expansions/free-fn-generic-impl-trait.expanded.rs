// The expansion of free-fn-generic-impl-trait.rs, written by `S3_OPS_SNAPSHOTS=overwrite cargo test`.

pub(crate) async fn fetch<'a, C>(
    client: &'a C,
    key: &'a str,
) -> Result<impl AsRef<[u8]> + 'a, S3Error>
where
    C: Fetch + Sync,
{
    use ::s3_ops_runtime::__private as __s3_ops;
    static __S3_OPS_SITE: __s3_ops::Site = __s3_ops::site(
        "get_object",
        __s3_ops::OperationClass::Download.default_policy(),
        0u64,
        0u64,
    );
    let mut __s3_ops_call = match __s3_ops::Call::begin(
        &__S3_OPS_SITE,
        "",
        __s3_ops::circuit(&(DOWNLOADS)),
    ) {
        __s3_ops::ResultOk(__s3_ops_call) => __s3_ops_call,
        __s3_ops::ResultErr(__s3_ops_refused) => return __s3_ops_refused,
    };
    loop {
        let __s3_ops_result: Result<_, S3Error> = '__s3_ops_attempt: {
            let bytes = match client.fetch(key).await {
                __s3_ops::ResultOk(__s3_ops_value) => __s3_ops_value,
                __s3_ops::ResultErr(__s3_ops_error) => {
                    break '__s3_ops_attempt __s3_ops::ResultErr(
                        __s3_ops::ConvertFrom::from(__s3_ops_error),
                    );
                }
            };
            Ok(bytes)
        };
        if __s3_ops_call.settle(&__s3_ops_result, __s3_ops::circuit(&(DOWNLOADS))) {
            return __s3_ops_result;
        }
        __s3_ops_call.backoff().await;
        if __s3_ops_call.resume(&__s3_ops_result, __s3_ops::circuit(&(DOWNLOADS))) {
            return __s3_ops_result;
        }
    }
}
