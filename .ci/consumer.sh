#!/usr/bin/env bash
# The crates as a user gets them: `cargo publish --dry-run` packages s3-ops-macros and
# s3-ops-runtime (and builds each package alone), then a new project outside the workspace,
# made with `cargo new`, depends on the unpacked `.crate` files (through `[patch.crates-io]`, as
# if from crates.io) and on aws-sdk-s3 with its default features, and runs
# `.ci/consumer/src/main.rs` against a moto server of its own. Catches what only works inside the
# workspace: paths, files the package leaves out, features, dev-dependencies.
#
#   bash .ci/consumer.sh
#
# Uses moto from `$WORK/moto-venv` (made by `.ci/run`), installing it from PyPI when absent. The
# project builds in `$CARGO_TARGET_DIR/consumer` (default `target/consumer`), kept between runs.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK="$ROOT/.ci/work"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
pids=()
tmp=$(mktemp -d)

. .ci/step.sh
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

mkdir -p "$WORK"

step "consumer: start moto (it starts while the crates build)"
venv="$WORK/moto-venv"
if [ ! -x "$venv/bin/moto_server" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'moto[server]>=5.2,<6'
fi
port=$(free_port)
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$WORK/consumer-moto.log" 2>&1 &
pids+=($!)

step "consumer: the consumer's source is formatted"
rustfmt --edition 2024 --check .ci/consumer/src/main.rs

step "consumer: package s3-ops-macros and s3-ops-runtime (cargo publish --dry-run)"
# `--allow-dirty`: this checks the crates as they are on disk, committed or not.
cargo publish --dry-run --allow-dirty -p s3-ops-macros -p s3-ops-runtime
# The dry run keeps its `.crate` files in a scratch folder of its own; `cargo package` writes
# them where they are documented to be (already verified above, so not built again).
cargo package --no-verify --allow-dirty -p s3-ops-macros -p s3-ops-runtime
version=$(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "s3-ops-runtime"))')
packages="$tmp/packages"
mkdir -p "$packages"
for crate in s3-ops-macros s3-ops-runtime; do
    tar -xzf "$TARGET/package/$crate-$version.crate" -C "$packages"
done

step "consumer: a new project outside the workspace"
project="$tmp/s3-ops-consumer"
cargo new --quiet --bin --vcs none "$project"
sed -e "s|@PACKAGES@|$packages|g" -e "s|@VERSION@|$version|g" \
    .ci/consumer/Cargo.toml.in >"$project/Cargo.toml"
cp .ci/consumer/src/main.rs "$project/src/main.rs"
# The pinned toolchain (rust-toolchain.toml applies only inside the repository).
cp rust-toolchain.toml "$project/"

step "consumer: build (aws-sdk-s3 with its default features; own target dir)"
started=$(date +%s)
# Without debug info: a second build of the SDK, kept small on disk.
(cd "$project" && CARGO_TARGET_DIR="$TARGET/consumer" CARGO_PROFILE_DEV_DEBUG=0 cargo build --quiet)
echo "consumer built in $(($(date +%s) - started)) s"
# The model checker is for the runtime's own unit tests: not even the lockfile of a user may
# name it (it did while it was a cfg-gated normal dependency).
if grep -q '^name = "loom"$' "$project/Cargo.lock"; then
    echo "the consumer's Cargo.lock has loom, a dependency of the runtime's tests only" >&2
    exit 1
fi

step "consumer: run against moto"
for _ in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.2; done
curl -s -o /dev/null "http://127.0.0.1:$port/" || {
    cat "$WORK/consumer-moto.log"
    echo "moto did not start" >&2
    exit 1
}
S3_OPS_CONSUMER_ENDPOINT="http://127.0.0.1:$port" "$TARGET/consumer/debug/s3-ops-consumer"
