#!/usr/bin/env bash
# Builds the OpenTelemetry Collector peer for bench:export with the official builder (ocb),
# cached in bench/.cache/bin/otelcol-bench-$VERSION (git-ignored). Prints the binary path.
# Exit 1 (with the reason on stderr) when Go or the module proxy is unavailable.
set -euo pipefail
VERSION=${OTELCOL_VERSION:-0.140.0}
# The builder is not tagged at every release (no v0.140.0); its generated code is stable across
# neighbouring versions, so the nearest earlier builder builds these components.
BUILDER_VERSION=${OTELCOL_BUILDER_VERSION:-0.139.0}
here=$(cd "$(dirname "$0")" && pwd)
cache="$here/../.cache"
bin="$cache/bin/otelcol-bench-$VERSION"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
command -v go >/dev/null 2>&1 || { echo "build-collector: go not found (install Go >= 1.24)" >&2; exit 1; }
mkdir -p "$cache/bin" "$cache/otelcol-build"
export GOBIN="$cache/bin"
if [ ! -x "$cache/bin/builder" ]; then
  go install "go.opentelemetry.io/collector/cmd/builder@v$BUILDER_VERSION" >&2
fi
work="$cache/otelcol-build"
sed -e "s/0\.140\.0/$VERSION/g" "$here/otelcol-builder.yaml" > "$work/manifest.yaml"
if ! (cd "$work" && nice -n 10 "$cache/bin/builder" --config manifest.yaml >&2); then
  # Some module proxies serve these versions but their checksum database answers 404; the
  # modules still come from the proxy, only the sumdb cross-check is skipped for them.
  echo "build-collector: retrying without the checksum database for go.opentelemetry.io" >&2
  (cd "$work" && GONOSUMDB=go.opentelemetry.io nice -n 10 "$cache/bin/builder" --config manifest.yaml >&2)
fi
mv "$work/out/otelcol-bench" "$bin"
echo "$bin"
