//! The attribute's own error messages, checked on the token streams rustc hands it: each rule
//! of `tests/ui/fail` (where the spans are checked too, through rustc) gives its message here in
//! milliseconds, and valid arguments give none. Kept in the crate so that `cargo mutants` on this
//! crate sees a changed message or a rule that no longer fires.

use proc_macro2::{TokenStream, TokenTree};

use crate::s3_operation_impl;

const METHOD: &str = "async fn f(&self) -> Result<(), E> { Ok(()) }";

/// The messages of every `compile_error!` in the expansion of `#[s3_operation(args)] item`.
fn messages_for(args: &str, item: &str) -> Vec<String> {
    let args: TokenStream = args.parse().expect("arguments that lex");
    let item: TokenStream = item.parse().expect("an item that lexes");
    let mut found = Vec::new();
    collect(s3_operation_impl(args, item), &mut found);
    found
}

fn collect(tokens: TokenStream, found: &mut Vec<String>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, token) in tokens.iter().enumerate() {
        match token {
            TokenTree::Ident(ident) if ident == "compile_error" => {
                if let Some(TokenTree::Group(group)) = tokens.get(i + 2) {
                    let message: syn::LitStr =
                        syn::parse2(group.stream()).expect("compile_error! takes a string");
                    found.push(message.value());
                }
            }
            TokenTree::Group(group) => collect(group.stream(), found),
            _ => {}
        }
    }
}

fn messages(args: &str) -> Vec<String> {
    messages_for(args, METHOD)
}

#[track_caller]
fn assert_rejected(args: &str, item: &str, expected: &str) {
    let found = messages_for(args, item);
    assert!(
        found.iter().any(|m| m == expected),
        "#[s3_operation({args})] {item}\nexpected: {expected}\nfound: {found:#?}"
    );
}

#[track_caller]
fn assert_accepted(args: &str, item: &str) {
    let found = messages_for(args, item);
    assert!(
        found.is_empty(),
        "#[s3_operation({args})] {item}: {found:#?}"
    );
}

const UP: &str = r#"class = "upload", op = "put_object""#;

#[test]
fn every_argument_of_the_grammar_is_accepted() {
    for args in [
        UP.to_owned(),
        format!("{UP},"),
        format!(r#"{UP}, bucket = self.bucket, circuit = self.c, max_attempts = 100"#),
        format!(r#"{UP}, base_delay = "250ms", max_delay = "2m", timeout = "5s", deadline = "1h""#),
        format!(r#"{UP}, deadline = "20s""#),
        format!(r#"{UP}, retry = self.upload_retry"#),
        format!(r#"{UP}, retry = *POLICY"#),
        format!(r#"{UP}, bucket = "results""#),
        r#"class = "cleanup", op = "delete_object", max_attempts = 3"#.to_owned(),
        r#"class = "download", op = "get_object""#.to_owned(),
    ] {
        assert_accepted(&args, METHOD);
    }
}

#[test]
fn missing_and_unknown_arguments() {
    let cases = [
        (
            r#"class = "upload""#,
            r#"missing `op`: name the S3 operation as the SDK does, like `op = "put_object"`"#,
        ),
        (
            r#"op = "put_object""#,
            r#"missing `class`: add `class = "upload"`, `"download"` or `"cleanup"`"#,
        ),
        (
            r#"class = "upload", op = "put_object", frobnicate = 3"#,
            "unknown argument `frobnicate`; expected one of `class`, `op`, `bucket`, `circuit`, `max_attempts`, `base_delay`, `max_delay`, `timeout`, `deadline`, `retry`, `hedge`",
        ),
        (
            r#"class = "upload", op = "put_object", retries = 3"#,
            "unknown argument `retries`; expected one of `class`, `op`, `bucket`, `circuit`, `max_attempts`, `base_delay`, `max_delay`, `timeout`, `deadline`, `retry`, `hedge`",
        ),
        (
            r#"class = "upload", op = "put_object", max_atempts = 3"#,
            "unknown argument `max_atempts`; did you mean `max_attempts`?",
        ),
        (
            r#"class = "upload", op = "put_object", self::retry = 3"#,
            "unknown argument `self::retry`; expected one of `class`, `op`, `bucket`, `circuit`, `max_attempts`, `base_delay`, `max_delay`, `timeout`, `deadline`, `retry`, `hedge`",
        ),
        (
            r#"class = "upload", op = "put_object", op = "get_object""#,
            "duplicate argument `op`: give each argument once",
        ),
        (
            r#"class: "upload", op = "put_object""#,
            r#"arguments are `name = value` pairs, like `class = "upload", op = "put_object"`"#,
        ),
    ];
    for (args, expected) in cases {
        assert_rejected(args, METHOD, expected);
    }
}

#[test]
fn a_syntax_error_other_than_a_missing_equals_keeps_syns_words() {
    let found = messages(r#"class = "upload", op = "put_object", bucket = "#);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(!found[0].contains("name = value"), "{found:#?}");
}

#[test]
fn values_of_the_wrong_kind() {
    let cases = [
        (
            r#"class = upload, op = "put_object""#,
            r#"`class` takes a string literal, like `class = "upload"`"#,
        ),
        (
            r#"class = "upload", op = 3"#,
            r#"`op` takes a string literal, like `op = "put_object"`"#,
        ),
        (
            r#"class = "upload", op = "put_object", max_attempts = "3""#,
            "`max_attempts` takes an integer literal, like `max_attempts = 5`",
        ),
        (
            r#"class = "upload", op = "put_object", max_attempts = 0"#,
            "`max_attempts` must be at least 1: it counts the first attempt too",
        ),
        (
            r#"class = "upload", op = "put_object", max_attempts = 101"#,
            "`max_attempts` is at most 100: more retries only add load to a failing S3; use `max_attempts = 100` or fewer",
        ),
        (
            r#"class = "upload", op = "put_object", base_delay = 5"#,
            r#"`base_delay` takes a duration string, like `base_delay = "250ms"`"#,
        ),
        (
            r#"class = "upload", op = "put_object", deadline = 5"#,
            r#"`deadline` takes a duration string, like `deadline = "250ms"`"#,
        ),
        (
            r#"class = "upload", op = "put_object", timeout = "1.5s""#,
            r#"malformed duration `"1.5s"`: write a whole number and a unit (`ms`, `s`, `m` or `h`), like `"250ms"`, `"1s"` or `"2m"`"#,
        ),
    ];
    for (args, expected) in cases {
        assert_rejected(args, METHOD, expected);
    }
}

#[test]
fn delays_and_limits_that_cannot_work() {
    let cases = [
        (
            r#"class = "upload", op = "put_object", base_delay = "2s", max_delay = "1s""#,
            "`base_delay` is longer than `max_delay`: the first backoff would already exceed the cap; lower `base_delay` or raise `max_delay`",
        ),
        (
            r#"class = "upload", op = "put_object", base_delay = "31s""#,
            "`base_delay` is longer than the default `max_delay` (30s): lower `base_delay` or set a longer `max_delay`",
        ),
        (
            r#"class = "upload", op = "put_object", max_delay = "500ms""#,
            "`max_delay` is shorter than the default `base_delay` (1s): raise `max_delay` or set a shorter `base_delay`",
        ),
        (
            r#"class = "upload", op = "put_object", timeout = "0s""#,
            "`timeout` must be longer than zero: every attempt would time out; remove `timeout` for no per-attempt limit",
        ),
        (
            r#"class = "upload", op = "put_object", deadline = "0ms""#,
            "`deadline` must be longer than zero: every call would end before its first attempt; remove `deadline` for no limit on the whole call",
        ),
        (
            r#"class = "upload", op = "put_object", timeout = "5s", deadline = "2s""#,
            "`deadline` is shorter than `timeout`: the deadline bounds the whole call, every attempt and backoff included; make `deadline` at least as long as `timeout`, or lower `timeout`",
        ),
        (
            r#"class = "upload", op = "put_object", retry = self.p, max_attempts = 2"#,
            "`max_attempts` cannot be used with `retry`: the `RetryPolicy` given to `retry` decides the attempts and delays; set `max_attempts` in that policy, or remove `retry`",
        ),
        (
            r#"class = "upload", op = "put_object", retry = self.p, max_delay = "2s""#,
            "`max_delay` cannot be used with `retry`: the `RetryPolicy` given to `retry` decides the attempts and delays; set `max_delay` in that policy, or remove `retry`",
        ),
    ];
    for (args, expected) in cases {
        assert_rejected(args, METHOD, expected);
    }
    // The limits themselves are allowed.
    for args in [
        r#"class = "upload", op = "put_object", base_delay = "30s""#,
        r#"class = "upload", op = "put_object", max_delay = "1s""#,
        r#"class = "upload", op = "put_object", base_delay = "2s", max_delay = "2s""#,
        r#"class = "upload", op = "put_object", timeout = "5s", deadline = "5s""#,
        r#"class = "upload", op = "put_object", max_attempts = 1"#,
    ] {
        assert_accepted(args, METHOD);
    }
}

#[test]
fn classes_and_operations() {
    let cases = [
        (
            r#"class = "uplaod", op = "put_object""#,
            "unknown class `uplaod`; did you mean `upload`? (expected `upload`, `download` or `cleanup`)",
        ),
        (
            r#"class = "delete", op = "delete_object""#,
            r#"there is no `delete` class: deletes are best-effort cleanup, without a circuit breaker; write `class = "cleanup"`"#,
        ),
        (
            r#"class = "upload", op = "put_objekt""#,
            "unknown S3 operation `put_objekt`; did you mean `put_object`?",
        ),
        (
            // A long name tolerates more typos (a third of its length): three here.
            r#"class = "download", op = "lst_obects_v""#,
            "unknown S3 operation `lst_obects_v`; did you mean `list_objects_v2`?",
        ),
        (
            // Four extra letters are more than a typo in a ten-letter word.
            r#"class = "zzzzupload", op = "put_object""#,
            "unknown class `zzzzupload`; expected `upload`, `download` or `cleanup`",
        ),
        (
            r#"class = "upload", op = "frobnicate""#,
            "unknown S3 operation `frobnicate`; use the `aws-sdk-s3` method name in snake_case, like `put_object` or `list_objects_v2`",
        ),
        (
            r#"class = "upload", op = "delete_object""#,
            r#"`delete_object` deletes, and deletes are best-effort cleanup without a circuit breaker: use `class = "cleanup"`, not `upload`"#,
        ),
        (
            r#"class = "upload", op = "get_object""#,
            r#"`get_object` reads: use `class = "download"`, not `upload`"#,
        ),
        (
            r#"class = "download", op = "put_object""#,
            r#"`put_object` writes: use `class = "upload"`, not `download`"#,
        ),
        (
            r#"class = "cleanup", op = "put_object""#,
            r#"`put_object` writes: use `class = "upload"`, not `cleanup`"#,
        ),
        (
            r#"class = "cleanup", op = "delete_object", circuit = self.c"#,
            "cleanup operations have no circuit breaker, by design: cleanup is best-effort and must neither wait on nor trip a breaker; remove `circuit`",
        ),
    ];
    for (args, expected) in cases {
        assert_rejected(args, METHOD, expected);
    }
}

#[test]
fn methods_the_attribute_cannot_wrap() {
    let how = "`#[s3_operation]` methods return `Result<T, E>` where `E` is `s3_ops_runtime::S3Error` or an error type implementing `Classify`";
    let cases = [
        (
            "fn f(&self) -> Result<(), E> { Ok(()) }",
            "`#[s3_operation]` needs an `async fn`: the retry loop awaits the body and the backoff; write `async fn`".to_owned(),
        ),
        (
            "async fn f(&self) { }",
            format!("add a return type: {how}"),
        ),
        (
            "async fn f(&self) -> u32 { 0 }",
            format!("this is not a `Result`: {how}"),
        ),
        (
            "async fn f() -> Result<(), E> { Ok(()) }",
            "a function without `self` has no `self.upload_circuit` to default to: pass the breaker with `circuit = <expr>`".to_owned(),
        ),
        (
            "async fn f(&self) -> Result<(), E>;",
            "`#[s3_operation]` goes on an `async fn` with a body, because it runs the body in its retry loop; in a trait, put it on the method of the `impl`".to_owned(),
        ),
        (
            "struct NotAFunction;",
            "`#[s3_operation]` goes on an `async fn` with a body, because it runs the body in its retry loop; in a trait, put it on the method of the `impl`".to_owned(),
        ),
    ];
    for (item, expected) in cases {
        assert_rejected(UP, item, &expected);
    }
    // A free function with its breaker given is fine.
    assert_accepted(
        r#"class = "upload", op = "put_object", circuit = CIRCUIT"#,
        "async fn f() -> Result<(), E> { Ok(()) }",
    );
}

#[test]
fn every_error_of_one_invocation_is_reported_at_once() {
    let found = messages(r#"class = "uplaod", op = "put_objekt", max_attempts = 0, retries = 1"#);
    assert_eq!(found.len(), 4, "{found:#?}");
}

#[test]
fn hedge_arguments() {
    let download = r#"class = "download", op = "get_object""#;
    for (hedge, expected) in [
        (
            r#"hedge = "p100""#,
            "`hedge = \"p100\"` is out of range: a percentile from `p50` to `p99.9`",
        ),
        (r#"hedge = "p49.9""#, "`hedge = \"p49.9\"` is out of range"),
        (r#"hedge = "p9x""#, "malformed percentile \"p9x\""),
        (r#"hedge = "p99.95""#, "malformed percentile \"p99.95\""),
        (r#"hedge = "soon""#, "malformed `hedge` \"soon\""),
        (r#"hedge = "0s""#, "`hedge` must be longer than zero"),
        (r#"hedge = 95"#, "`hedge` takes a duration"),
        (
            r#"hedge = "5s", timeout = "5s""#,
            "`hedge` is not shorter than `timeout`",
        ),
    ] {
        let found = messages(&format!("{download}, {hedge}"));
        assert!(
            found.len() == 1 && found[0].starts_with(expected),
            "{hedge}: {found:#?}"
        );
    }
    for accepted in [
        r#"hedge = "p50""#,
        r#"hedge = "p99.9""#,
        r#"hedge = "1ms""#,
        r#"hedge = "4s", timeout = "5s""#,
    ] {
        let found = messages(&format!("{download}, {accepted}"));
        assert!(found.is_empty(), "{accepted}: {found:#?}");
    }
    let mutable = messages_for(
        &format!(r#"{download}, hedge = "p95""#),
        "async fn f(&mut self, out: &mut Vec<u8>) -> Result<(), E> { Ok(()) }",
    );
    assert_eq!(mutable.len(), 2, "{mutable:#?}");
    assert!(
        mutable[0].contains("both cannot borrow `self` mutably"),
        "{mutable:#?}"
    );
    assert!(
        mutable[1].contains("both cannot borrow `out` mutably"),
        "{mutable:#?}"
    );
    let upload = messages(r#"class = "upload", op = "put_object", hedge = "p95""#);
    assert!(
        upload.len() == 1 && upload[0].starts_with("`hedge` is for reads"),
        "{upload:#?}"
    );
}
