#!/usr/bin/env bash
# Regenerates README.md's picture of the User Settings page (docs/settings-page.png) from the
# browser test that checks that page (tests/e2e/pages.test.mjs), so the picture shows the page
# as the current build renders it: Chromium at 1440 × 900, two keys listed, one shown.
#
# Usage: scripts/screenshot.sh
#   Builds target/debug/keyflow, installs the tests' packages (npm ci) if they are missing,
#   and runs the test with KEYFLOW_README_SCREENSHOT set. Needs Debian's chromium (or
#   CHROMIUM_PATH). The test's own checks (layout, axe-core) must pass, or no picture is kept.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

case "${1:-}" in
-h | --help)
    sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac

cargo build --manifest-path "$root/Cargo.toml"
cd "$root/tests/e2e"
[[ -d node_modules/axe-core && -d node_modules/playwright-core ]] || npm ci
# Written beside the old one, and moved over it only once the test has passed.
fresh="$root/docs/settings-page.new.png"
trap 'rm -f "$fresh"' EXIT
KEYFLOW_README_SCREENSHOT="$fresh" node --test --test-name-pattern='^User Settings' pages.test.mjs
mv "$fresh" "$root/docs/settings-page.png"
echo "wrote docs/settings-page.png"
