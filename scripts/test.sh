#!/usr/bin/env bash
# The whole test suite, as CI runs it: prepare the machine, rebuild the BPF objects from source,
# type-check and compile, then run every test for real (eBPF tests load into this kernel).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "npm test: the suite needs root: it installs Debian packages, mounts tracefs and loads eBPF programs." >&2
  echo "          run it as root, e.g. sudo npm test" >&2
  exit 1
fi

bash scripts/setup-test-env.sh
if grep -q '"build:bpf"' package.json; then npm run --silent build:bpf; fi
npx tsc -p tsconfig.json
# vitest strips types without checking them: check the tests too.
npx tsc -p tsconfig.test.json

results=$(mktemp -d)/vitest.json
set +e
SONDE_TEST_BUILT=1 npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@"
code=$?
set -e
# One plain closing line that any CI reader understands.
if [ -s "$results" ]; then
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const skipped = r.numPendingTests + r.numTodoTests;
    console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
  ' "$results"
fi
exit $code
