#!/usr/bin/env bash
# End-to-end test of examples/token-mcp: builds the server, then drives it
# over stdio with the official TypeScript MCP SDK (pinned in
# examples/token-mcp/e2e/package-lock.json) against a local HTTP API that
# checks the bearer token and rotates it. e2e.mjs writes its own temporary
# HOME (~/.mcp/credentials, ~/.mcp/profiles.json) and removes it.
# Needs Go and Node.js 20+ with npm. Prints "N passed, N failed" last and
# exits non-zero on any failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$root"
go build -o "$work/token-mcp" ./examples/token-mcp

cd "$root/examples/token-mcp/e2e"
npm ci --ignore-scripts --no-audit --no-fund >/dev/null
TOKEN_MCP_BIN="$work/token-mcp" node e2e.mjs
