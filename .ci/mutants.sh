#!/usr/bin/env bash
# Mutation testing of the runtime and the attribute with cargo-mutants: does a test fail when
# the code is changed? Settings in .cargo/mutants.toml; figures and survivors in RELIABILITY.md.
#
#   bash .ci/mutants.sh                    # quick: only mutants on lines changed since the base
#   S3_OPS_MUTANTS_BASE=main bash .ci/mutants.sh
#   bash .ci/mutants.sh full               # both crates whole (hours on 2 cores: see RELIABILITY.md)
#   bash .ci/mutants.sh full s3-ops-runtime --file s3-ops-runtime/src/classify.rs
#
# Exits non-zero when a mutant survives (cargo-mutants' own exit status: 2 missed, 3 timeout).
# Reports land in $CARGO_TARGET_DIR/mutants-out/ (outcomes.json, missed.txt, caught.txt, ...).
set -euo pipefail

cd "$(dirname "$0")/.."
VERSION=27.1.0
if ! cargo mutants --version 2>/dev/null | grep -q "$VERSION"; then
    cargo install cargo-mutants --locked --version "$VERSION"
fi

# A target dir of its own: the flags below would otherwise rebuild the normal one from scratch.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/mutants"
# No debug info: each mutant relinks about twenty test binaries; smaller and faster links.
export CARGO_PROFILE_DEV_DEBUG=0
if command -v mold >/dev/null; then
    export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-fuse-ld=mold"
fi
OUT="$CARGO_TARGET_DIR/mutants-out"
mkdir -p "$OUT"

mode=${1:-diff}
case "$mode" in
diff)
    base=${S3_OPS_MUTANTS_BASE:-origin/main}
    git diff "$base"...HEAD -- s3-ops-runtime/src s3-ops-macros/src >"$OUT/changes.diff"
    if [ ! -s "$OUT/changes.diff" ]; then
        echo "no change to s3-ops-runtime/src or s3-ops-macros/src since $base"
        exit 0
    fi
    cargo mutants --package s3-ops-runtime --package s3-ops-macros \
        --in-diff "$OUT/changes.diff" --output "$OUT/diff"
    ;;
full)
    shift
    if [ $# -gt 0 ] && [[ "$1" != -* ]]; then
        packages=("$1")
        shift
    else
        packages=(s3-ops-macros s3-ops-runtime)
    fi
    status=0
    for package in "${packages[@]}"; do
        cargo mutants --package "$package" --output "$OUT/$package" "$@" || status=$?
    done
    exit "$status"
    ;;
*)
    echo "usage: $0 [diff | full [PACKAGE] [cargo-mutants args...]]" >&2
    exit 2
    ;;
esac
