#!/usr/bin/env bash
# Fails when a C++ file of the project is not formatted as .clang-format says.
# Fix with: tools/check-format.sh --fix
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mapfile -t files < <(find kiosk hal media sync ui tests -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' \) | sort)
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
  echo "formatted ${#files[@]} files"
  exit 0
fi
if clang-format --dry-run --Werror "${files[@]}"; then
  echo "format: all ${#files[@]} C++ files follow .clang-format"
else
  echo "format: run tools/check-format.sh --fix" >&2
  exit 1
fi
