//! Expansion snapshots: each `expansions/NAME.rs` holds one annotated method; its expansion,
//! printed as code, must equal `expansions/NAME.expanded.rs`. A change to what the attribute
//! writes shows up here as a diff to review like code.
//!
//! `S3_OPS_SNAPSHOTS=overwrite cargo test -p s3-ops-macros snapshots` rewrites the expected files.

use std::fs;
use std::path::{Path, PathBuf};

use proc_macro2::{Delimiter, TokenStream, TokenTree};

use crate::s3_operation_impl;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/expansions");
const EXPANDED: &str = ".expanded.rs";

#[test]
fn expansions_match_their_snapshots() {
    let overwrite = std::env::var("S3_OPS_SNAPSHOTS").is_ok_and(|v| v == "overwrite");
    let inputs = inputs();
    assert!(!inputs.is_empty(), "no snapshot inputs in {DIR}");
    let mut mismatches = Vec::new();
    for input in &inputs {
        let expected_path = expected_path(input);
        let actual = expansion_of(input);
        if overwrite {
            fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            mismatches.push(format!(
                "{}:\n--- expected\n{expected}\n--- actual\n{actual}",
                expected_path.display()
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "expansions differ from their snapshots (S3_OPS_SNAPSHOTS=overwrite rewrites them; \
         review the diff):\n{}",
        mismatches.join("\n")
    );
}

/// An expected file without its input is a snapshot nobody checks any more.
#[test]
fn every_snapshot_has_its_input() {
    for entry in fs::read_dir(DIR).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(EXPANDED) {
            let input = path.with_file_name(format!("{stem}.rs"));
            assert!(input.exists(), "{} has no input {}", name, input.display());
        }
    }
}

fn inputs() -> Vec<PathBuf> {
    let mut inputs: Vec<PathBuf> = fs::read_dir(DIR)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.ends_with(".rs") && !name.ends_with(EXPANDED)
        })
        .collect();
    inputs.sort();
    inputs
}

fn expected_path(input: &Path) -> PathBuf {
    let stem = input.file_stem().unwrap().to_string_lossy();
    input.with_file_name(format!("{stem}{EXPANDED}"))
}

/// The file's `#[s3_operation(ARGS)] ITEM` expanded, printed by prettyplease.
fn expansion_of(input: &Path) -> String {
    let source = fs::read_to_string(input).unwrap();
    let tokens: TokenStream = source.parse().unwrap();
    let (args, item) = split_attribute(tokens)
        .unwrap_or_else(|| panic!("{} must start with `#[s3_operation(..)]`", input.display()));
    let expanded = s3_operation_impl(args, item);
    let file: syn::File = syn::parse2(expanded.clone()).unwrap_or_else(|err| {
        panic!(
            "the expansion of {} is not Rust ({err}): {expanded}",
            input.display()
        )
    });
    format!(
        "// The expansion of {}, written by `S3_OPS_SNAPSHOTS=overwrite cargo test`.\n\n{}",
        input.file_name().unwrap().to_string_lossy(),
        prettyplease::unparse(&file)
    )
}

/// `# [s3_operation (ARGS)] ITEM` → `(ARGS, ITEM)`.
fn split_attribute(tokens: TokenStream) -> Option<(TokenStream, TokenStream)> {
    let mut tokens = tokens.into_iter();
    let (Some(TokenTree::Punct(hash)), Some(TokenTree::Group(attr))) =
        (tokens.next(), tokens.next())
    else {
        return None;
    };
    let mut attr_tokens = attr.stream().into_iter();
    let (Some(TokenTree::Ident(name)), Some(TokenTree::Group(args)), None) =
        (attr_tokens.next(), attr_tokens.next(), attr_tokens.next())
    else {
        return None;
    };
    let is_attribute = hash.as_char() == '#'
        && attr.delimiter() == Delimiter::Bracket
        && name == "s3_operation"
        && args.delimiter() == Delimiter::Parenthesis;
    is_attribute.then(|| (args.stream(), tokens.collect()))
}
