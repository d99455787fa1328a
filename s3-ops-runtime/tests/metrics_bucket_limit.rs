//! The `bucket` label cap, in a test binary of its own: the limit is process-global.

mod support;

use s3_ops_runtime::metrics::{self, OperationResult, OTHER_BUCKET};
use s3_ops_runtime::{CircuitBreaker, Operation, OperationClass, S3Error};
use support::samples;

const OP: &str = "bucket_limit_op";

async fn call(op: &Operation, breaker: &CircuitBreaker, bucket: &str) {
    op.run(breaker, bucket, || async { Ok::<_, S3Error>(()) })
        .await
        .expect("a successful call");
}

/// The `bucket` labels of this test's `s3_operations_total` series, as rendered.
fn rendered_buckets() -> Vec<String> {
    samples(&metrics::render())
        .into_iter()
        .filter(|s| {
            s.name == "s3_operations_total"
                && s.labels.get("operation").map(String::as_str) == Some(OP)
        })
        .filter_map(|s| s.labels.get("bucket").cloned())
        .collect()
}

#[tokio::test]
async fn buckets_past_the_limit_are_labelled_other() {
    assert_eq!(metrics::DEFAULT_BUCKET_LABEL_LIMIT, 100);
    metrics::set_bucket_label_limit(3);
    let op = Operation::new(OperationClass::Download, OP);
    let breaker = CircuitBreaker::new("bucket-limit-circuit");

    for bucket in ["first", "second", "third"] {
        call(&op, &breaker, bucket).await;
    }
    for bucket in ["fourth", "fifth", "fourth"] {
        call(&op, &breaker, bucket).await;
    }
    let total = |bucket| metrics::operations_total(OP, bucket, OperationResult::Success);
    assert_eq!(total("first"), 1);
    assert_eq!(total("third"), 1);
    assert_eq!(total("fourth"), 0);
    assert_eq!(total("fifth"), 0);
    assert_eq!(total(OTHER_BUCKET), 3);
    let duration = metrics::operation_duration(OP, OTHER_BUCKET).expect("observed");
    assert_eq!(duration.count, 3);

    // Buckets labelled before keep their label; the cap applies to new ones only.
    metrics::set_bucket_label_limit(1);
    call(&op, &breaker, "second").await;
    call(&op, &breaker, "sixth").await;
    assert_eq!(total("second"), 2);
    assert_eq!(total(OTHER_BUCKET), 4);

    // The same through a second operation: the cap is on distinct buckets, not per operation.
    let other_op = Operation::new(OperationClass::Upload, "bucket_limit_other_op");
    call(&other_op, &breaker, "fourth").await;
    assert_eq!(
        metrics::operations_total(
            "bucket_limit_other_op",
            OTHER_BUCKET,
            OperationResult::Success
        ),
        1
    );

    let mut rendered = rendered_buckets();
    rendered.sort();
    assert_eq!(rendered, ["first", "other", "second", "third"]);
}
