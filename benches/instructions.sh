#!/usr/bin/env bash
# Instructions per call of each variant's success path, counted by callgrind: deterministic,
# where criterion's timings move with the machine. Each variant runs N and 2N calls in one loop
# (`examples/calls.rs`); the difference divided by N is the cost of one call, without the
# program's start and the runtime's setup.
#
#   benches/instructions.sh [VARIANT…]      (default: all eight; N=100000, or $CALLS)
#
# Needs valgrind (`apt-get install valgrind`).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed" >&2; exit 1; }
n=${CALLS:-100000}
variants=("$@")
[[ ${#variants[@]} -gt 0 ]] || variants=(bare annotated annotated_failure_rate annotated_policy hand_optimal recipe_port failsafe_backon autometrics)

# The micro-benchmarks' build (profile `bench`, no `e2e` feature), as criterion runs them.
cargo build --quiet --profile bench -p s3-ops-benches --example calls --example calls_policy
bin_dir=${CARGO_TARGET_DIR:-target}/release/examples
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

total() { # instructions of one run: VARIANT CALLS
    # `annotated_policy` has a binary of its own (see `examples/calls_policy.rs`).
    case "$1" in
    annotated_policy) bin=$bin_dir/calls_policy ;;
    *) bin=$bin_dir/calls ;;
    esac
    valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bin" "$1" "$2" 2>"$out/log" ||
        { cat "$out/log" >&2; exit 1; }
    sed -n 's/^summary: //p' "$out/cg"
}

printf '| variant | instructions per call |\n|---|---:|\n'
for v in "${variants[@]}"; do
    one=$(total "$v" "$n")
    two=$(total "$v" $((2 * n)))
    printf '| %s | %d |\n' "$v" $(((two - one) / n))
done
