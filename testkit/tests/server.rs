//! The test server against aws-sdk-s3: S3 behaviour, every fault and the counters.

use std::time::{Duration, Instant};

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_sdk_s3::Client;
use s3_ops_testkit::{FaultCode, FaultCounts, Op, S3Server, ACCESS_KEY};

const BUCKET: &str = "bucket";

async fn setup() -> (S3Server, Client) {
    let server = S3Server::start().await.expect("start server");
    server.create_bucket(BUCKET).await.expect("create bucket");
    let client = Client::from_conf(
        server
            .config_builder()
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    (server, client)
}

async fn put(client: &Client, key: &str, body: &'static [u8]) {
    client
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from_static(body))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
}

async fn get(client: &Client, key: &str) -> Vec<u8> {
    let out = client
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get {key}: {e:?}"));
    out.body.collect().await.expect("collect body").to_vec()
}

/// The S3 error code and HTTP status of a failed call.
fn code_and_status<E: ProvideErrorMetadata + std::fmt::Debug>(
    err: &SdkError<E, HttpResponse>,
) -> (Option<String>, u16) {
    let status = err
        .raw_response()
        .map(|r| r.status().as_u16())
        .unwrap_or_else(|| panic!("no response: {err:?}"));
    (err.code().map(str::to_owned), status)
}

#[tokio::test]
async fn put_get_head_and_range() {
    let (server, client) = setup().await;
    put(&client, "dir/hello.txt", b"hello, world").await;
    assert_eq!(get(&client, "dir/hello.txt").await, b"hello, world");
    assert!(server
        .root_dir()
        .join(BUCKET)
        .join("dir/hello.txt")
        .is_file());

    let head = client
        .head_object()
        .bucket(BUCKET)
        .key("dir/hello.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(12));

    let range = client
        .get_object()
        .bucket(BUCKET)
        .key("dir/hello.txt")
        .range("bytes=7-11")
        .send()
        .await
        .unwrap();
    assert_eq!(range.body.collect().await.unwrap().to_vec(), b"world");

    let err = client
        .get_object()
        .bucket(BUCKET)
        .key("missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_status(&err), (Some("NoSuchKey".into()), 404));
    assert!(err.into_service_error().is_no_such_key());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_with_prefix_delimiter_and_pagination() {
    let (_server, client) = setup().await;
    for i in 0..7 {
        put(&client, &format!("a/{i}"), b"x").await;
    }
    for i in 0..3 {
        put(&client, &format!("b/{i}"), b"y").await;
    }

    let mut keys = Vec::new();
    let mut pages = 0;
    let mut token = None;
    loop {
        let page = client
            .list_objects_v2()
            .bucket(BUCKET)
            .prefix("a/")
            .max_keys(3)
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        pages += 1;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        token = page.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(keys, (0..7).map(|i| format!("a/{i}")).collect::<Vec<_>>());

    let top = client
        .list_objects_v2()
        .bucket(BUCKET)
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<_> = top
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["a/", "b/"]);
    assert!(top.contents().is_empty());
}

#[tokio::test]
async fn delete_objects_and_delete_object() {
    let (server, client) = setup().await;
    for key in ["k1", "k2", "k3"] {
        put(&client, key, b"z").await;
    }
    let delete = Delete::builder()
        .objects(ObjectIdentifier::builder().key("k1").build().unwrap())
        .objects(ObjectIdentifier::builder().key("k2").build().unwrap())
        .build()
        .unwrap();
    let out = client
        .delete_objects()
        .bucket(BUCKET)
        .delete(delete)
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().len(), 2);
    assert!(out.errors().is_empty());

    let left = client
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = left.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["k3"]);

    client
        .delete_object()
        .bucket(BUCKET)
        .key("k3")
        .send()
        .await
        .unwrap();
    let left = client
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    assert!(left.contents().is_empty());

    assert_eq!(server.faults().requests("delete_objects"), 1);
    assert_eq!(server.faults().requests("delete_object"), 1);
    assert_eq!(server.faults().requests(Op::LIST_OBJECTS_V2), 2);
}

#[tokio::test]
async fn each_fault_code_has_its_code_and_status() {
    let (server, client) = setup().await;
    let expected = [
        (FaultCode::SlowDown, "SlowDown", 503),
        (FaultCode::InternalError, "InternalError", 500),
        (FaultCode::ServiceUnavailable, "ServiceUnavailable", 503),
        (FaultCode::AccessDenied, "AccessDenied", 403),
        (FaultCode::NoSuchKey, "NoSuchKey", 404),
        (FaultCode::RequestTimeout, "RequestTimeout", 400),
    ];
    assert_eq!(expected.len(), FaultCode::ALL.len());
    put(&client, "obj", b"data").await;
    for (code, name, status) in expected {
        assert_eq!((code.code(), code.status()), (name, status));

        server.faults().fail_next("put_object", code, 1);
        let err = client
            .put_object()
            .bucket(BUCKET)
            .key("obj")
            .body(ByteStream::from_static(b"new"))
            .send()
            .await
            .unwrap_err();
        assert!(matches!(err, SdkError::ServiceError(_)), "{err:?}");
        assert_eq!(
            code_and_status(&err),
            (Some(name.into()), status),
            "{code:?}"
        );

        server.faults().fail_next("get_object", code, 1);
        let err = client
            .get_object()
            .bucket(BUCKET)
            .key("obj")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            code_and_status(&err),
            (Some(name.into()), status),
            "{code:?}"
        );

        server.faults().fail_next("list_objects_v2", code, 1);
        let err = client
            .list_objects_v2()
            .bucket(BUCKET)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            code_and_status(&err),
            (Some(name.into()), status),
            "{code:?}"
        );
    }
    // The failed PUTs never reached the store.
    assert_eq!(get(&client, "obj").await, b"data");
    let injected = server.faults().injected();
    for code in FaultCode::ALL {
        assert_eq!(injected.by_code(code), 3, "{code:?}");
    }
    assert_eq!(injected.errors(), 18);
}

#[tokio::test]
async fn fail_next_affects_exactly_n_requests_of_that_op() {
    let (server, client) = setup().await;
    let faults = server.faults();
    faults.fail_next("put_object", FaultCode::SlowDown, 2);
    faults.fail_next("put_object", FaultCode::InternalError, 1);
    assert_eq!(faults.pending(), 3);

    // Other operations are not affected.
    let list = client.list_objects_v2().bucket(BUCKET).send().await;
    assert!(list.is_ok());

    let mut outcomes = Vec::new();
    for _ in 0..5 {
        let res = client.put_object().bucket(BUCKET).key("k").send().await;
        outcomes.push(res.map_err(|e| e.code().map(str::to_owned)).map(|_| ()));
    }
    assert_eq!(
        outcomes,
        [
            Err(Some("SlowDown".into())),
            Err(Some("SlowDown".into())),
            Err(Some("InternalError".into())),
            Ok(()),
            Ok(()),
        ]
    );
    assert_eq!(faults.pending(), 0);
    assert_eq!(faults.requests("put_object"), 5);
    assert_eq!(faults.requests("list_objects_v2"), 1);
    assert_eq!(faults.total_requests(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_next_under_concurrency_fails_exactly_n() {
    let (server, client) = setup().await;
    server.faults().fail_next(Op::ANY, FaultCode::SlowDown, 5);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let client = client.clone();
        tasks.spawn(async move {
            client
                .put_object()
                .bucket(BUCKET)
                .key(format!("c/{i}"))
                .body(ByteStream::from_static(b"c"))
                .send()
                .await
                .is_ok()
        });
    }
    let ok = tasks.join_all().await.into_iter().filter(|&ok| ok).count();
    assert_eq!(ok, 15);
    assert_eq!(server.faults().requests("put_object"), 20);
    assert_eq!(server.faults().injected().slow_down, 5);
}

#[tokio::test]
async fn delay_adds_latency_to_that_op_only() {
    let (server, client) = setup().await;
    put(&client, "k", b"v").await;
    server
        .faults()
        .delay("get_object", Duration::from_millis(300));

    let t = Instant::now();
    assert_eq!(get(&client, "k").await, b"v");
    let delayed = t.elapsed();
    assert!(delayed >= Duration::from_millis(300), "{delayed:?}");

    let t = Instant::now();
    put(&client, "k2", b"v").await;
    assert!(
        t.elapsed() < Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );

    server.faults().delay("get_object", Duration::ZERO);
    let t = Instant::now();
    get(&client, "k").await;
    assert!(
        t.elapsed() < Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(server.faults().injected().delayed, 1);
    assert_eq!(server.faults().injected().total(), 0);
}

#[tokio::test(start_paused = true)]
async fn paused_time_delays_advance_the_clock_without_waiting() {
    let (server, client) = setup().await;
    put(&client, "k", b"v").await;
    server.faults().delay(Op::ANY, Duration::from_secs(30));

    let wall = Instant::now();
    let t = tokio::time::Instant::now();
    assert_eq!(get(&client, "k").await, b"v");
    assert!(t.elapsed() >= Duration::from_secs(30));
    assert!(
        wall.elapsed() < Duration::from_secs(5),
        "{:?}",
        wall.elapsed()
    );

    server.faults().clear();
    server.faults().cut_body_next("get_object", 1);
    let out = client
        .get_object()
        .bucket(BUCKET)
        .key("k")
        .send()
        .await
        .unwrap();
    assert!(out.body.collect().await.is_err());
}

#[tokio::test]
async fn outage_and_recover() {
    let (server, client) = setup().await;
    put(&client, "k", b"v").await;
    server
        .faults()
        .fail_next("get_object", FaultCode::NoSuchKey, 1);
    server.faults().outage();
    assert!(server.faults().in_outage());

    let err = client
        .get_object()
        .bucket(BUCKET)
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code_and_status(&err),
        (Some("ServiceUnavailable".into()), 503)
    );
    let err = client
        .put_object()
        .bucket(BUCKET)
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code_and_status(&err),
        (Some("ServiceUnavailable".into()), 503)
    );
    let err = client
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code_and_status(&err),
        (Some("ServiceUnavailable".into()), 503)
    );
    let err = client
        .head_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 503);

    server.faults().recover();
    // The queued fault survived the outage.
    let err = client
        .get_object()
        .bucket(BUCKET)
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_and_status(&err), (Some("NoSuchKey".into()), 404));
    assert_eq!(get(&client, "k").await, b"v");

    let injected = server.faults().injected();
    assert_eq!(injected.outage, 4);
    assert_eq!(injected.service_unavailable, 0);
    assert_eq!(injected.errors(), 5);
}

#[tokio::test]
async fn drop_connection_is_a_dispatch_failure() {
    let (server, client) = setup().await;
    put(&client, "k", b"v").await;

    server.faults().drop_connection_next("get_object", 1);
    let err = client
        .get_object()
        .bucket(BUCKET)
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");
    assert!(err.raw_response().is_none());
    assert_eq!(get(&client, "k").await, b"v");

    server.faults().drop_connection_next("put_object", 1);
    let err = client
        .put_object()
        .bucket(BUCKET)
        .key("k")
        .body(ByteStream::from_static(b"dropped"))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");
    assert_eq!(get(&client, "k").await, b"v");

    let injected = server.faults().injected();
    assert_eq!(injected.dropped_connections, 2);
    assert_eq!(injected.total(), 2);
    assert_eq!(server.faults().requests("get_object"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_body_fails_while_reading_never_a_truncated_success() {
    let (server, client) = setup().await;
    static BIG: [u8; 256 * 1024] = [7; 256 * 1024];
    put(&client, "big", &BIG).await;
    put(&client, "tiny", b"x").await;

    for key in ["big", "tiny"] {
        server.faults().cut_body_next("get_object", 1);
        let out = client
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .expect("headers arrive");
        let full = if key == "big" { BIG.len() } else { 1 };
        assert_eq!(out.content_length(), Some(full as i64));
        let res = out.body.collect().await;
        assert!(
            res.is_err(),
            "{key}: a cut body must fail, got {} bytes",
            res.map(|b| b.to_vec().len()).unwrap()
        );
    }
    // A cut listing: headers, then a broken XML body.
    server.faults().cut_body_next("list_objects_v2", 1);
    let err = client
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, SdkError::ResponseError(_)), "{err:?}");
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 200);

    // Nothing to cut on HEAD: the connection is dropped instead.
    server.faults().cut_body_next("head_object", 1);
    let err = client
        .head_object()
        .bucket(BUCKET)
        .key("big")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");

    assert_eq!(get(&client, "big").await.len(), BIG.len());
    let injected = server.faults().injected();
    assert_eq!(injected.cut_bodies, 3);
    assert_eq!(injected.dropped_connections, 1);
}

#[tokio::test]
async fn fail_rate_is_probabilistic_and_counted() {
    let (server, client) = setup().await;
    put(&client, "k", b"v").await;
    let faults = server.faults();
    faults.seed(42);
    faults.fail_rate("head_object", FaultCode::InternalError, 0.5);
    let mut failed = 0;
    for _ in 0..40 {
        if client
            .head_object()
            .bucket(BUCKET)
            .key("k")
            .send()
            .await
            .is_err()
        {
            failed += 1;
        }
    }
    assert!((8..=32).contains(&failed), "{failed}");
    assert_eq!(faults.injected().internal_error, failed);
    // Other operations untouched.
    assert_eq!(get(&client, "k").await, b"v");

    faults.fail_rate("head_object", FaultCode::InternalError, 1.0);
    assert!(client
        .head_object()
        .bucket(BUCKET)
        .key("k")
        .send()
        .await
        .is_err());
    faults.clear();
    assert!(client
        .head_object()
        .bucket(BUCKET)
        .key("k")
        .send()
        .await
        .is_ok());
}

#[tokio::test]
async fn counters_count_once_per_request() {
    let (server, client) = setup().await;
    let faults = server.faults();
    assert_eq!(faults.total_requests(), 0);

    put(&client, "k", b"v").await;
    faults.fail_next("get_object", FaultCode::SlowDown, 1);
    faults.drop_connection_next("head_object", 1);
    assert!(client
        .get_object()
        .bucket(BUCKET)
        .key("k")
        .send()
        .await
        .is_err());
    get(&client, "k").await;
    assert!(client
        .head_object()
        .bucket(BUCKET)
        .key("k")
        .send()
        .await
        .is_err());
    client
        .head_object()
        .bucket(BUCKET)
        .key("k")
        .send()
        .await
        .unwrap();

    assert_eq!(faults.requests("put_object"), 1);
    assert_eq!(faults.requests("get_object"), 2);
    assert_eq!(faults.requests(Op::HEAD_OBJECT), 2);
    assert_eq!(faults.requests("delete_object"), 0);
    assert_eq!(faults.total_requests(), 5);
    assert_eq!(faults.requests("*"), 5);
    assert_eq!(
        faults.injected(),
        FaultCounts {
            slow_down: 1,
            dropped_connections: 1,
            ..FaultCounts::default()
        }
    );

    faults.reset_counters();
    assert_eq!(faults.total_requests(), 0);
    assert_eq!(faults.requests("get_object"), 0);
    assert_eq!(faults.injected(), FaultCounts::default());
}

#[tokio::test]
async fn create_bucket_via_sdk_and_store() {
    let (server, client) = setup().await;
    client
        .create_bucket()
        .bucket("via-sdk")
        .send()
        .await
        .unwrap();
    assert_eq!(server.faults().requests(Op::CREATE_BUCKET), 1);
    let err = server.create_bucket("via-sdk").await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    let err = server.create_bucket("ab").await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let buckets = client.list_buckets().send().await.unwrap();
    let mut names: Vec<_> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
    names.sort_unstable();
    assert_eq!(names, ["bucket", "via-sdk"]);
}

#[tokio::test]
async fn bad_credentials_are_rejected_before_the_fault_hook() {
    let (server, _client) = setup().await;
    assert_eq!(server.credentials().0, ACCESS_KEY);
    let wrong = Client::from_conf(
        server
            .config_builder()
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                ACCESS_KEY, "wrong", None, None, "test",
            ))
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    server.faults().outage();
    let err = wrong
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code_and_status(&err),
        (Some("SignatureDoesNotMatch".into()), 403)
    );
    assert_eq!(server.faults().total_requests(), 1);
    assert_eq!(server.faults().requests("list_objects_v2"), 0);
}

#[tokio::test]
async fn drop_stops_serving_and_deletes_the_directory() {
    let (server, client) = setup().await;
    put(&client, "k", b"v").await;
    let addr = server.addr();
    assert_eq!(server.endpoint(), format!("http://{addr}"));
    let root = server.root_dir().to_owned();
    assert!(root.is_dir());
    drop(server);
    assert!(!root.exists());

    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            break;
        }
        assert!(Instant::now() < deadline, "still accepting connections");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let err = client
        .get_object()
        .bucket(BUCKET)
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");
}

#[tokio::test]
async fn writes_into_a_missing_bucket_answer_no_such_bucket() {
    let (server, client) = setup().await;
    let err = client
        .put_object()
        .bucket("no-such-bucket")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchBucket"));
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
    assert!(!server.root_dir().join("no-such-bucket").exists());
}
