//! The runtime's modules depend on each other one way only:
//!
//! ```text
//! sync, classify ← error ← retry ← breaker ← {metrics, config} ← call ← {operation, client}
//!     ← __private
//! ```
//!
//! Read from the sources: each `crate::<module>` a module's files name is a dependency. A
//! module may use those to its left, never one to its right, so a new feature lands in the part
//! it belongs to and the call engine only composes them.

use std::collections::BTreeSet;
use std::path::Path;

/// Lowest layer first; modules of one layer may not use each other.
const LAYERS: &[&[&str]] = &[
    &["sync", "classify"],
    &["error"],
    &["retry"],
    &["breaker"],
    // What reads the breakers and the policies: their metrics, their settings.
    &["metrics", "config"],
    &["call"],
    &["operation", "client"],
    // The expansion's facade: it re-exports from any of them (an operation class's default
    // policy among them).
    &["__private"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// `(module, dependency)` for every `crate::dependency` named in the module's files.
fn dependencies(src: &Path) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let relative = path.strip_prefix(src).unwrap();
        let first = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap();
        let module = first.trim_end_matches(".rs").to_owned();
        if module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (at, _) in text.match_indices("crate::") {
            let name: String = text[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // Modules only: `crate::S3Error` and the like are the root's re-exports, named in
            // doc links.
            if name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') && name != module {
                found.insert((module.clone(), name));
            }
        }
    }
    found
}

#[test]
fn modules_depend_on_lower_layers_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = dependencies(&src);
    assert!(
        found.contains(&("call".to_owned(), "breaker".to_owned())),
        "the scan reads the sources: {found:?}"
    );
    let mut wrong = Vec::new();
    for (module, dependency) in &found {
        let (Some(from), Some(to)) = (layer_of(module), layer_of(dependency)) else {
            wrong.push(format!(
                "`{module}` or `{dependency}` has no layer: add it to LAYERS"
            ));
            continue;
        };
        if to >= from {
            wrong.push(format!(
                "`{module}` uses `{dependency}`, which is not below it"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
