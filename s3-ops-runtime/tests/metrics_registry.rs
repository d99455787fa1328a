//! `metrics::register` on a registry of the application's own, in a test binary of its own:
//! it must run before anything touches the metrics, and the choice is process-global.

mod support;

use prometheus::Registry;
use s3_ops_runtime::metrics::{self, OperationResult};
use s3_ops_runtime::{CircuitBreaker, Operation, OperationClass, S3Error};
use support::{samples, value};

const FAMILIES: [&str; 4] = [
    "s3_operations_total",
    "s3_operation_duration_seconds",
    "s3_circuit_breaker_state",
    "s3_retry_attempts_total",
];

fn family_names(registry: &Registry) -> Vec<String> {
    registry
        .gather()
        .iter()
        .map(|family| family.name().to_owned())
        .collect()
}

#[tokio::test]
async fn the_series_go_to_the_registry_given_to_register() {
    let custom = Registry::new();
    metrics::register(&custom).expect("first registration");

    let op = Operation::new(OperationClass::Upload, "registry_op");
    let breaker = CircuitBreaker::new("registry-circuit");
    op.run(&breaker, "registry-bucket", || async {
        Ok::<_, S3Error>(())
    })
    .await
    .unwrap();
    assert_eq!(
        metrics::operations_total("registry_op", "registry-bucket", OperationResult::Success),
        1
    );

    let names = family_names(&custom);
    for family in FAMILIES {
        assert!(
            names.iter().any(|n| n == family),
            "{family} not in {names:?}"
        );
    }
    let default_names = family_names(prometheus::default_registry());
    for family in FAMILIES {
        assert!(
            !default_names.iter().any(|n| n == family),
            "{family} leaked into the default registry: {default_names:?}"
        );
    }

    let all = samples(&metrics::render());
    assert_eq!(
        value(
            &all,
            "s3_operations_total",
            &[
                ("operation", "registry_op"),
                ("bucket", "registry-bucket"),
                ("result", "success")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &all,
            "s3_circuit_breaker_state",
            &[("circuit_name", "registry-circuit")]
        ),
        Some(0.0)
    );

    // The same registry twice is refused; another registry is fine and sees the same cells.
    assert!(metrics::register(&custom).is_err());
    let second = Registry::new();
    metrics::register(&second).expect("a second registry");
    assert!(family_names(&second)
        .iter()
        .any(|n| n == "s3_operations_total"));

    // A registry that already has a metric of one of these names is refused too.
    let taken = Registry::new();
    let own = prometheus::IntCounter::new("s3_operations_total", "the application's own").unwrap();
    taken.register(Box::new(own)).unwrap();
    assert!(metrics::register(&taken).is_err());
}
