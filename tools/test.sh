#!/usr/bin/env bash
# The README's second command: install what is missing, build, run the whole test suite.
# Ends with ctest's summary line. Pass a preset name (default, asan) to test another build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
preset=${1:-default}

bash image/install-packages.sh runtime build test
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
# Benchmarks print figures rather than pass or fail; they run on request (see tests/bench/README.md).
ctest --preset "$preset" --label-exclude bench
