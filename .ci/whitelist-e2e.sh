#!/usr/bin/env bash
# End-to-end test of examples/whitelist-mcp: builds the server and the local
# EC2 endpoint, then drives the server over stdio with the official
# TypeScript MCP SDK (pinned in examples/whitelist-mcp/e2e/package-lock.json).
# e2e.mjs writes its own temporary HOME (with ~/.mcp/credentials) and a
# profiles file (0600, passed as MCP_PROFILES_PATH), and removes them.
# Needs Go and Node.js 20+ with npm. Prints "N passed, N failed" last and
# exits non-zero on any failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$root"
go build -o "$work/whitelist-mcp" ./examples/whitelist-mcp
go build -o "$work/fakeec2" ./examples/whitelist-mcp/internal/fakeec2/cmd/fakeec2

cd "$root/examples/whitelist-mcp/e2e"
npm ci --ignore-scripts --no-audit --no-fund >/dev/null
WHITELIST_BIN="$work/whitelist-mcp" FAKEEC2_BIN="$work/fakeec2" node e2e.mjs
