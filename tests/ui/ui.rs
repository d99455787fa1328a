//! The catalogue of `#[s3_operation]`: every file under `pass/` compiles without a warning
//! and runs, every file under `fail/<topic>/` fails to compile with exactly the diagnostics
//! of its `.stderr`.
//!
//! After changing a message, regenerate the snapshots with
//! `TRYBUILD=overwrite cargo test -p s3-ops-ui-tests --test ui` and review the `.stderr` diff like
//! code. They are recorded with the toolchain of `rust-toolchain.toml`: another rustc words its
//! own notes differently. `cargo test -p s3-ops-ui-tests --test ui -- ui trybuild=NAME` runs only
//! the files whose path contains `NAME`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("pass/*.rs");
    t.compile_fail("fail/*/*.rs");
}

/// Compiles each pass file a second time, as a module of this target, and calls its `main`.
///
/// trybuild builds the pass files with `cargo build`, which runs rustc's lints but not clippy's.
/// As modules here they are also linted by `cargo clippy -p s3-ops-ui-tests --all-targets -- -D
/// warnings` (and the workspace lints), so the expansion is proven clippy-clean for every shape
/// the catalogue covers. Calling `main` keeps rustc's dead-code analysis the same as in the
/// binaries. `every_pass_file_is_linted` fails when a pass file is missing from this list.
macro_rules! pass_files {
    ($($module:ident = $file:literal,)*) => {
        $(
            #[path = $file]
            mod $module;
        )*

        const PASS_FILES: &[&str] = &[$($file),*];

        #[test]
        fn pass_files_run_as_modules() {
            $($module::main();)*
        }
    };
}

pass_files! {
    attributes = "pass/attributes.rs",
    buckets = "pass/buckets.rs",
    circuits = "pass/circuits.rs",
    control_flow = "pass/control-flow.rs",
    error_types = "pass/error-types.rs",
    generics_and_lifetimes = "pass/generics-and-lifetimes.rs",
    hedge = "pass/hedge.rs",
    operation = "pass/operation.rs",
    receivers = "pass/receivers.rs",
    retry_policy = "pass/retry-policy.rs",
    shadowing = "pass/shadowing.rs",
    timeout = "pass/timeout.rs",
    trait_methods = "pass/trait-methods.rs",
}

#[test]
fn every_pass_file_is_linted() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pass");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("pass/ is readable")
        .map(|entry| entry.expect("pass/ entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .map(|path| {
            format!(
                "pass/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            )
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = PASS_FILES.iter().map(|file| (*file).to_owned()).collect();
    listed.sort();
    assert_eq!(
        listed, on_disk,
        "list every `pass/*.rs` file in `pass_files!` so clippy lints its expansion"
    );
}
