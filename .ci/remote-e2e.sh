#!/usr/bin/env bash
# End-to-end test of examples/whitelist-mcp as a remote server: builds the
# server, the local EC2 endpoint and the test OpenID provider
# (internal/testop), then drives the server over Streamable HTTP with the
# official TypeScript MCP SDK (pinned in examples/whitelist-mcp/e2e), which
# gets its tokens from that provider. remote.mjs writes its own temporary
# HOME and removes it. Needs Go and Node.js 20+ with npm. Prints
# "N passed, N failed" last and exits non-zero on any failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$root"
go build -o "$work/whitelist-mcp" ./examples/whitelist-mcp
go build -o "$work/fakeec2" ./examples/whitelist-mcp/internal/fakeec2/cmd/fakeec2
go build -o "$work/testop" ./internal/testop/cmd/testop

cd "$root/examples/whitelist-mcp/e2e"
npm ci --ignore-scripts --no-audit --no-fund >/dev/null
# The script resolves the SDK from the pinned install next to it.
cp "$root/examples/whitelist-mcp/internal/remotee2e/remote.mjs" "$work/remote.mjs"
ln -s "$root/examples/whitelist-mcp/e2e/node_modules" "$work/node_modules"
WHITELIST_BIN="$work/whitelist-mcp" FAKEEC2_BIN="$work/fakeec2" TESTOP_BIN="$work/testop" node "$work/remote.mjs"
