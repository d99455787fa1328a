//! The attribute never panics: a panicking proc macro leaves the user with "proc macro panicked"
//! and no location. Arbitrary argument lists and arbitrary methods (truncated, unbalanced-looking,
//! odd literals, huge numbers and durations, nested groups, bodies full of control flow) each
//! give an expansion or a `compile_error!`.
//!
//! 2 000 cases in `cargo test`; `S3_OPS_FUZZ_CASES=100000 cargo test -p s3-ops-macros
//! never_panics` runs more.

use std::panic::{catch_unwind, AssertUnwindSafe};

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::s3_operation_impl;

const DEFAULT_CASES: u32 = 2_000;

#[test]
fn arbitrary_arguments_and_methods_give_an_expansion_or_a_compile_error() {
    let cases = std::env::var("S3_OPS_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    // A failure is copied into the test below by hand, with what it found.
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&inputs(), |(args, item)| {
            // Text a lexer rejects never reaches a proc macro.
            let (Ok(args), Ok(item)) = (args.parse(), item.parse()) else {
                return Ok(());
            };
            check(args, item)
        })
        .unwrap();
}

/// The kinds of input the property looks for, each checked on every run (the property has found
/// no panic so far; one it finds goes here too, with what it broke).
#[test]
fn huge_numbers_odd_literals_and_truncated_methods() {
    for (args, item) in [
        (
            "class = \"upload\", op = \"put_object\", timeout = \"99999999999999999999h\"",
            "async fn f(&self) -> Result<(), E> { Ok(()) }",
        ),
        (
            "class = \"upload\", op = \"put_object\", max_attempts = 99999999999999999999999",
            "async fn f(&self) -> Result<(), E> { Ok(()) }",
        ),
        (
            "class = b\"upload\", op = r#\"put_object\"#, max_attempts = 3u8, base_delay = 1e999",
            "async fn f(&self) -> Result<(), E> { Ok(()) }",
        ),
        (
            "class = \"upload\" op",
            "async fn f(&self) -> Result<(), E>",
        ),
        (
            "class = \"upload\", op = \"put_object\"",
            "async fn f(&self) ->",
        ),
        (
            "class = \"upload\", op = \"put_object\"",
            "async fn f(&self) -> Result<(), E> { let Some(x) = g()? else { return Ok(()) }; \
             if h()? { loop { break } } match k()? { _ => return Ok(()) } Ok(()) }",
        ),
    ] {
        check(args.parse().unwrap(), item.parse().unwrap()).unwrap();
    }
}

/// Runs the attribute; `Err` on a panic, on an output that is neither an expansion nor an
/// error, or on the expansion of a method that parses when the expansion does not.
fn check(args: TokenStream, item: TokenStream) -> Result<(), TestCaseError> {
    let output = catch_unwind(AssertUnwindSafe(|| s3_operation_impl(args, item.clone()))).map_err(
        |panic| {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            TestCaseError::fail(format!("the attribute panicked: {message}"))
        },
    )?;
    let is_error = is_item_and_errors(&output, &item);
    let is_expansion = !is_error && is_expansion(&output);
    prop_assert!(
        is_error || is_expansion,
        "neither an expansion nor an error: {output}"
    );
    // A method that parses expands to one that parses, whichever form its body took: a `?`
    // rewritten into a `match` that parses apart from the rest of its statement shows here.
    if is_expansion && syn::parse2::<syn::ItemFn>(item).is_ok() {
        prop_assert!(
            syn::parse2::<syn::ItemFn>(output.clone()).is_ok(),
            "the expansion of a method that parses does not: {output}"
        );
    }
    Ok(())
}

/// The item as it came, followed by one or more `::core::compile_error! { .. }`.
fn is_item_and_errors(output: &TokenStream, item: &TokenStream) -> bool {
    let output: Vec<TokenTree> = output.clone().into_iter().collect();
    let item_len = item.clone().into_iter().count();
    let Some((kept, errors)) = output.split_at_checked(item_len) else {
        return false;
    };
    let kept: TokenStream = kept.iter().cloned().collect();
    kept.to_string() == item.to_string()
        && !errors.is_empty()
        && errors.chunks(8).all(|error| {
            let error: TokenStream = error.iter().cloned().collect();
            let text = error.to_string();
            text.starts_with(":: core :: compile_error ! {") && text.ends_with('}')
        })
}

/// A function whose body (the last group) names the runtime as the expansion does.
fn is_expansion(output: &TokenStream) -> bool {
    match output.clone().into_iter().last() {
        Some(TokenTree::Group(body)) if body.delimiter() == Delimiter::Brace => body
            .stream()
            .to_string()
            .contains("use :: s3_ops_runtime :: __private as __s3_ops ;"),
        _ => false,
    }
}

/// Half the cases a method the attribute accepts, whose body reaches the rewriting; half
/// anything.
fn inputs() -> impl Strategy<Value = (String, String)> {
    let accepted = (valid_arguments(), statements()).prop_map(|(args, body)| {
        (
            args,
            format!("async fn f(&self, key: &str) -> Result<u32, E> {{ {body} }}"),
        )
    });
    prop_oneof![accepted, (arguments(), method())]
}

/// Argument lists the attribute accepts, so that bodies reach the expansion, and some with one
/// numeric value of any size (accepted or not).
fn valid_arguments() -> impl Strategy<Value = String> {
    let class_op = prop::sample::select(vec![
        "class = \"upload\", op = \"put_object\"",
        "class = \"download\", op = \"get_object\", bucket = self.bucket",
        "op = \"delete_object\", class = \"cleanup\"",
    ]);
    let extra = prop_oneof![
        3 => prop::sample::select(vec![
            "",
            ", timeout = \"5s\"",
            ", max_attempts = 5, base_delay = \"10ms\"",
            ", timeout = \"1h\", max_delay = \"2m\",",
        ])
        .prop_map(String::from),
        1 => (
            prop::sample::select(vec!["timeout", "base_delay", "max_delay", "deadline"]),
            duration(),
        )
            .prop_map(|(key, value)| format!(", {key} = {value}")),
        1 => integer().prop_map(|value| format!(", max_attempts = {value}")),
    ];
    (class_op, extra).prop_map(|(class_op, extra)| format!("{class_op}{extra}"))
}

/// Argument lists: mostly `name = value` pairs with the attribute's names and plausible or odd
/// values, sometimes any tokens at all.
fn arguments() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        4 => prop::sample::select(vec![
            "class", "op", "bucket", "circuit", "max_attempts", "base_delay", "max_delay",
            "timeout", "deadline",
        ])
        .prop_map(String::from),
        1 => ident(),
    ];
    let value = prop_oneof![
        3 => literal(),
        1 => prop::sample::select(vec!["\"upload\"", "\"download\"", "\"cleanup\""])
            .prop_map(String::from),
        1 => prop::sample::select(vec!["\"put_object\"", "\"get_object\"", "\"delete_object\""])
            .prop_map(String::from),
        1 => prop::sample::select(vec!["self.bucket", "self.a.b.c", "BREAKER", "&self.x"])
            .prop_map(String::from),
        1 => tokens(),
    ];
    let separator = prop_oneof![
        12 => Just(", "),
        1 => prop::sample::select(vec![" ", ",, ", " = ", ";"]),
    ];
    let pairs = prop::collection::vec((key, value, separator), 0..9).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(key, value, separator)| format!("{key} = {value}{separator}"))
            .collect::<String>()
    });
    prop_oneof![3 => valid_arguments(), 4 => pairs, 1 => tokens()]
}

/// Methods: a signature of plausible or odd parts and a body of statements with control flow,
/// random tokens, or a truncated version of either.
fn method() -> impl Strategy<Value = String> {
    let attrs = prop::sample::select(vec!["", "#[inline] ", "/// doc\n", "#[cfg(all())] "]);
    let vis = prop::sample::select(vec!["", "pub ", "pub(crate) "]);
    let asyncness = prop::sample::select(vec!["async ", "async ", "async ", "", "const async "]);
    let receiver = prop::sample::select(vec!["&self", "&self", "&mut self", "self: &Self"]);
    let name = prop_oneof![Just("f".to_owned()), ident()];
    let generics = prop::sample::select(vec!["", "<T>", "<'a, T: Send>", "<const N: usize>"]);
    let params = prop::sample::select(vec![
        "",
        "",
        ", key: &str",
        ", n: u8, mut v: Vec<u8>",
        ", f: impl Fn() -> u8",
        "",
        "#",
    ]);
    let params = (receiver, params).prop_map(|(receiver, params)| match params {
        "#" => "(key: String)".to_owned(),
        _ => format!("({receiver}{params})"),
    });
    let ret = prop_oneof![
        3 => prop::sample::select(vec![
            " -> Result<(), S3Error>",
            " -> Result<u32, E>",
            " -> Result<u32, E>",
            " -> Result<u32, E>",
            " -> Result<impl AsRef<[u8]>, S3Error>",
            " -> ::core::result::Result<Vec<u8>, Box<dyn Error>>",
            " -> Option<u8>",
            "",
            " -> impl Future<Output = u8>",
        ])
        .prop_map(String::from),
        1 => tokens().prop_map(|t| format!(" -> {t}")),
    ];
    let body = prop_oneof![3 => statements(), 1 => tokens()];
    let whole = (attrs, vis, asyncness, name, generics, params, ret, body).prop_map(
        |(attrs, vis, asyncness, name, generics, params, ret, body)| {
            format!("{attrs}{vis}{asyncness}fn {name}{generics}{params}{ret} {{ {body} }}")
        },
    );
    let truncated = (whole.clone(), any::<prop::sample::Index>())
        .prop_map(|(text, at)| truncate_tokens(&text, at));
    prop_oneof![6 => whole, 2 => truncated, 1 => tokens()]
}

/// The method's tokens with the tail cut off at a random top-level token (the lexer would not
/// let a proc macro see an unclosed group, so groups stay whole).
fn truncate_tokens(text: &str, at: prop::sample::Index) -> String {
    let Ok(tokens) = text.parse::<TokenStream>() else {
        return text.to_owned();
    };
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let keep = at.index(tokens.len() + 1);
    tokens[..keep]
        .iter()
        .cloned()
        .collect::<TokenStream>()
        .to_string()
}

/// Bodies of statements with every kind of way out, nested in loops, closures, `async` blocks
/// and macro calls; mostly valid Rust syntax, so that the rewriting of the inline form is
/// exercised and its output checked to parse.
fn statements() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        "let x = f()?;",
        "let x = self.client.get().key(k).send().await?;",
        "return Ok(1);",
        "return;",
        "break;",
        "continue;",
        "break 'a;",
        "break 'a 1;",
        "continue 'a;",
        "next()?.len();",
        "next()? + 1;",
        "next()? - 1;",
        "a()? as u64;",
        "a()?[0];",
        "a()?(1);",
        "x = y()?;",
        "x += y()?;",
        "Req { a: 1 }.send()?;",
        "Req { a: b? }.send()?;",
        "let Some(v) = g()? else { return Ok(()) };",
        "let v = h()? else { continue };",
        "let v = m!(a?);",
        "::std::println!(\"{}\", x);",
        "::std::format!(\"{}\", f()?);",
        "format!(\"{x}\");",
        "bail!(\"no\");",
        "::std::vec![1, 2];",
        "f(g()?, h()?);",
        "*r = v?;",
        "(a?, b?);",
        "[c?; 2];",
        "x.await?;",
        "&mut y?;",
        "-z?;",
        "!w?;",
        "r?..s?;",
        "t? = 1;",
        "{ return Ok(()) }",
        "fn inner() -> R { k()?; return Ok(()) }",
        "impl T for U { fn f() { return } }",
        "macro_rules! m { () => { return Ok(()) } }",
        "const C: u8 = 1;",
        "#[allow(unused)] let y = 1;",
    ])
    .prop_map(String::from);
    let tail = prop::sample::select(vec![
        "",
        "",
        "Ok(())",
        "Ok(x?)",
        "x?",
        "f()?.g()?",
        "return Err(e)",
        "(a?, b?)",
        "break",
        "S { a: b? }",
        "m!(x)",
        "::std::vec![c?]",
        "match k()? { _ => 1 }",
    ]);
    let inner_tail = tail.clone();
    let statement = leaf.prop_recursive(4, 48, 6, move |inner| {
        let block = (prop::collection::vec(inner, 0..5), inner_tail.clone())
            .prop_map(|(stmts, tail)| format!("{} {tail}", stmts.join(" ")));
        (
            prop::sample::select(vec![
                "loop { # }",
                "'a: loop { # }",
                "for i in xs { # }",
                "'a: for i in f()? { # }",
                "while c()? { # }",
                "while let Some(v) = it.next() { # }",
                "if c? { # } else { # }",
                "if let Ok(v) = r { # }",
                "match m()? { Some(v) => { # } None => return Ok(()), }",
                "match x { _ if g()? => { # } _ => {} }",
                "let cl = |x| { # };",
                "let cl = move || -> R { # };",
                "let fut = async { # };",
                "let fut = async move { # }.await;",
                "'a: { # }",
                "unsafe { # }",
                "const { # };",
                "m! { # };",
                "::std::assert!({ # });",
                "let v = { # };",
                "let v = S { a: { # } }.b()?;",
                "{ # }.len()?;",
            ]),
            block,
        )
            .prop_map(|(shape, block)| shape.replace('#', &block))
    });
    (prop::collection::vec(statement, 0..6), tail)
        .prop_map(|(stmts, tail)| format!("{} {tail}", stmts.join(" ")))
}

/// Any tokens: names and keywords, punctuation that looks unbalanced (`<`, `|`, `'`), odd
/// literals, nested groups.
fn tokens() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        3 => ident(),
        3 => prop::sample::select(vec![
            "?", "!", ".", ",", ";", ":", "::", "=", "==", "=>", "->", "<", ">", "<<", "&", "&&",
            "|", "||", "#", "$", "@", "~", "^", "%", "*", "+", "-", "/", "..", "..=", "'a",
            "'__s3_ops_attempt", "'static", "_",
        ])
        .prop_map(String::from),
        2 => literal(),
    ];
    let tree = leaf.prop_recursive(4, 64, 8, |inner| {
        (
            prop::sample::select(vec![("(", ")"), ("[", "]"), ("{", "}")]),
            prop::collection::vec(inner, 0..8),
        )
            .prop_map(|((open, close), inner)| format!("{open} {} {close}", inner.join(" ")))
    });
    prop::collection::vec(tree, 0..16).prop_map(|trees| trees.join(" "))
}

/// Names and every keyword, raw identifiers among them.
fn ident() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => "[a-zA-Z_][a-zA-Z0-9_]{0,10}",
        2 => prop::sample::select(vec![
            "self", "Self", "super", "crate", "fn", "async", "await", "return", "break",
            "continue", "loop", "for", "in", "while", "let", "else", "match", "if", "move",
            "impl", "dyn", "const", "static", "struct", "mod", "unsafe", "where", "yield", "try",
            "gen", "r#type", "r#match", "Ok", "Err", "Some", "None", "S3Error", "std", "core",
            "format", "vec", "println", "bail", "s3_operation", "compile_error", "__s3_ops",
            "__S3_OPS_SITE",
        ])
        .prop_map(String::from),
    ]
}

/// Literals of every kind: strings (raw, byte, C, with escapes and any characters), characters,
/// integers with and without suffixes far past any integer type, floats, and durations of every
/// size and unit, valid and not.
fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(vec![
            "\"\"", "b\"bytes\"", "b\"\\xff\\x00\"", "br\"raw\"", "r#\"raw \" \"#", "c\"cstr\"",
            "'c'", "b'x'", "'\\u{10FFFF}'", "\"\\u{1F600}\"", "0", "1", "3u8", "-1", "4294967296",
            "99999999999999999999999999999999999999999999", "0xFFFF_FFFF_FFFF_FFFF_FFFF",
            "0b1010_i128", "1e999", "1.0f32", "5usize", "1_000", "\"1.5s\"", "\"0s\"", "\"0ms\"",
            "\"99999999999999999999h\"", "\"18446744073709551615ms\"", "\"5124095576030431h\"",
            "\"1 s\"", "\"s\"", "\"-1s\"", "\"１s\"", "\"1µs\"",
        ])
        .prop_map(String::from),
        1 => any::<String>().prop_map(|s| format!("{s:?}")),
        1 => integer(),
        2 => duration(),
    ]
}

/// Integer literals of any size, with or without a suffix.
fn integer() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        any::<u128>().prop_map(|n| n.to_string()),
        any::<u32>().prop_map(|n| n.to_string()),
        (0u8..10).prop_map(|n| n.to_string()),
        "[0-9]{20,60}",
    ];
    let suffix = prop::sample::select(vec![
        "", "", "u8", "u32", "u64", "i64", "usize", "f64", "ms",
    ]);
    (number, suffix).prop_map(|(n, suffix)| format!("{n}{suffix}"))
}

/// Duration strings: numbers of every length, around every unit's overflow, with units valid
/// and not.
fn duration() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        "[0-9]{0,25}",
        any::<u64>().prop_map(|n| n.to_string()),
        (0u64..=u64::MAX / 1_000_000).prop_map(|n| n.to_string()),
    ];
    let unit = prop::sample::select(vec!["ms", "s", "m", "h", "us", "ns", "", "d", "S", " s"]);
    (number, unit).prop_map(|(n, unit)| format!("\"{n}{unit}\""))
}
