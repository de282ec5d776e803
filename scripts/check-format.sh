#!/usr/bin/env bash
# Fails if any C++ file in the repository differs from what clang-format (Debian 12's, 14) makes
# of it with .clang-format. Fix with: git ls-files '*.cc' '*.h' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
if ! git ls-files -z '*.cc' '*.h' | xargs -0 clang-format --dry-run --Werror 2>/tmp/eden-format.$$; then
  head -n 40 /tmp/eden-format.$$
  echo "check-format: files above are not clang-format clean" >&2
  rm -f /tmp/eden-format.$$
  exit 1
fi
rm -f /tmp/eden-format.$$
echo "check-format: $(git ls-files '*.cc' '*.h' | wc -l) files clean"
