#!/usr/bin/env bash
# The runtime's feature matrix: no features, each feature alone, and all of them together, each
# linted and tested (unit, integration and doc tests) with only those features on. The features
# come from the manifest, so a new one joins the matrix by itself. Then the docs as docs.rs
# builds them: all features and `--cfg docsrs` (the "available on crate feature" badges).
#
#   bash .ci/features.sh
#
# Tests of a feature are gated on it (`required-features`, `#[cfg(feature = ...)]`) and the
# crate has no dev-dependency on itself, so a feature a test needs is never switched on behind
# the matrix's back.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
CRATE=s3-ops-runtime

. .ci/step.sh

features=$(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
package = next(p for p in json.load(sys.stdin)["packages"] if p["name"] == sys.argv[1])
print(" ".join(sorted(f for f in package["features"] if f != "default")))' "$CRATE")
sets=("" $features)
if [ "$(wc -w <<<"$features")" -gt 1 ]; then sets+=("$(tr ' ' ',' <<<"$features")"); fi

for set in "${sets[@]}"; do
    step "features of $CRATE: ${set:-none}"
    # The library alone first: the tests' builds also carry the features the dev-dependencies
    # turn on in shared dependencies (tokio's, the testkit's hyper server), which could hide one
    # the library needs and does not ask for.
    cargo check -p "$CRATE" --lib --no-default-features --features "$set"
    cargo clippy -p "$CRATE" --all-targets --no-default-features --features "$set" -- -D warnings
    cargo test -p "$CRATE" --no-default-features --features "$set"
done

# docs.rs builds on nightly; `RUSTC_BOOTSTRAP` lets this stable rustdoc accept the nightly-only
# `doc(cfg)` the same way. Set for rustdoc alone, so nothing else is rebuilt.
step "docs of $CRATE as docs.rs builds them (all features, --cfg docsrs)"
rustdoc_nightly="$ROOT/.ci/work/rustdoc-docsrs"
mkdir -p "$(dirname "$rustdoc_nightly")"
printf '#!/bin/sh\nRUSTC_BOOTSTRAP=1 exec rustdoc "$@"\n' >"$rustdoc_nightly"
chmod +x "$rustdoc_nightly"
RUSTDOC="$rustdoc_nightly" RUSTDOCFLAGS="--cfg docsrs -D warnings" \
    cargo doc -p "$CRATE" --no-deps --all-features
