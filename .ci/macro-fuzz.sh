#!/usr/bin/env bash
# The attribute never panics, at more cases than `cargo test` runs: arbitrary argument lists and
# methods into `s3_operation_impl` (s3-ops-macros/src/tests/never_panics.rs), optimised so that
# the cases, not the build, take the time.
#
#   .ci/macro-fuzz.sh            # S3_OPS_FUZZ_CASES=50000 by default
set -euo pipefail

cd "$(dirname "$0")/.."
S3_OPS_FUZZ_CASES=${S3_OPS_FUZZ_CASES:-50000} \
    cargo test -p s3-ops-macros --release --lib never_panics
