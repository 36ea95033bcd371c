#!/usr/bin/env bash
# C and C++ formatting (kernel style for bpf/, the .clang-format files say which), checked, not applied.
set -euo pipefail
cd "$(dirname "$0")/.."
fmt=$(command -v clang-format-16 || command -v clang-format || true)
[ -n "$fmt" ] || { echo "clang-format-check: clang-format is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
"$fmt" --dry-run --Werror bpf/*.c bpf/*.h native/src/*.cc native/src/*.h
