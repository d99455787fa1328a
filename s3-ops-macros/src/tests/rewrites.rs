//! Which bodies run inline and which fall back to an `async` block (`attempt.rs`), and that a
//! rewritten `?` leading a statement keeps the statement whole: what goes wrong otherwise is a
//! `return` or `break` that leaves the method instead of the attempt (the retry and the outcome
//! skipped), or an expansion rustc cannot parse.

use proc_macro2::TokenStream;

use crate::s3_operation_impl;

const ARGS: &str = r#"class = "upload", op = "put_object""#;

/// The expansion of a method with `body`, checked to parse as Rust (syn is more lenient than
/// rustc here: it reads `match x {}.field;` as one expression, rustc as a statement and an error).
fn expansion(body: &str) -> String {
    let item = format!("async fn f(&self) -> Result<(), E> {{ {body} }}");
    let args: TokenStream = ARGS.parse().unwrap();
    let expanded = s3_operation_impl(args, item.parse().expect("a body that lexes"));
    if let Err(err) = syn::parse2::<syn::File>(expanded.clone()) {
        panic!("the expansion of `{body}` is not Rust ({err}): {expanded}");
    }
    let text = expanded.to_string();
    assert!(!text.contains("compile_error"), "`{body}`: {text}");
    text
}

/// `true` when the body runs inline (no `async` block per attempt).
fn inlined(body: &str) -> bool {
    !expansion(body).contains("async {")
}

#[test]
fn a_break_after_the_bodys_own_loop_falls_back() {
    assert!(inlined("for _ in 0..2 { if x { break; } } Ok(())"));
    // Once the loop is over, a `break` would leave the retry loop: rustc must see it in an
    // `async` block, where it is an error, not inline, where it is a retry skipped.
    assert!(!inlined("for _ in 0..2 { } if x { break; } Ok(())"));
    assert!(!inlined("while y { } if x { continue; } Ok(())"));
}

#[test]
fn plain_std_macros_stay_inline_unless_their_arguments_hide_a_way_out() {
    assert!(inlined(r#"let s = ::std::format!("{}", !flag); Ok(())"#));
    assert!(inlined(r#"let s = ::std::format!("{} {}", a, !b); Ok(())"#));
    // A `!` before parentheses is a negation unless a name comes before it.
    assert!(inlined(
        r#"let s = ::std::format!("{}", !(a && b)); Ok(())"#
    ));
    assert!(!inlined(
        r#"let s = ::std::format!("{:?}", (return Ok(()))); Ok(())"#
    ));
    assert!(!inlined(
        r#"loop { let s = ::std::format!("{:?}", break); } Ok(())"#
    ));
    assert!(!inlined(
        r#"loop { let s = ::std::format!("{:?}", continue); } Ok(())"#
    ));
    assert!(!inlined(r#"let s = ::std::format!("{}", next()?); Ok(())"#));
    assert!(!inlined(
        r#"let s = ::std::format!("{}", mine!(x)); Ok(())"#
    ));
}

#[test]
fn a_question_mark_leading_a_statement_keeps_the_statement_whole() {
    for body in [
        "next()?.len(); Ok(())",
        "next()?.field; Ok(())",
        "next()?[0]; Ok(())",
        "next()?(1); Ok(())",
        "next()?..; Ok(())",
        "next()? as u8; Ok(())",
        "next()? + 1; Ok(())",
        "next()?.await; Ok(())",
    ] {
        let text = expansion(body);
        assert!(!text.contains("async {"), "{body}: inline");
        // The `match` the `?` became, in parentheses, so the statement goes on after it.
        assert!(text.contains("(match"), "{body}: {text}");
    }
}
