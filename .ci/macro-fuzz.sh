#!/usr/bin/env bash
# The attribute never panics, at ten times the cases `cargo test` runs: arbitrary argument lists
# and methods into `s3_operation_impl` (s3-ops-macros/src/tests/never_panics.rs), about a minute
# on one core. It runs the test build `cargo test` already made: an optimised build is hardly
# faster at this and takes a minute to compile.
#
#   .ci/macro-fuzz.sh            # S3_OPS_FUZZ_CASES=20000 by default
set -euo pipefail

cd "$(dirname "$0")/.."
S3_OPS_FUZZ_CASES=${S3_OPS_FUZZ_CASES:-20000} \
    cargo test -p s3-ops-macros --lib never_panics
