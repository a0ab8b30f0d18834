#!/bin/sh
# Tests for provider/vault.
#
# 1. Unit tests of provider/vault (no server; a local endpoint speaking
#    Vault's HTTP API), with -race, and a short run of its fuzz target.
# 2. The test-only module internal/vaulttest, which starts a real Vault core
#    in-process (github.com/hashicorp/vault test helpers) and runs the
#    provider against it over HTTP. Its first build compiles Vault: several
#    minutes cold, seconds when the build cache is warm. Cache GOCACHE and
#    GOMODCACHE between CI runs.
#
# Environment:
#   CI=true            a missing piece (go, the Vault module) fails the run
#                      instead of skipping the server tests
#   VAULT_TESTS_RACE=1 also build the server tests with -race (a second
#                      cold build of Vault; see the comment below)
#   FUZZTIME           fuzz time for FuzzParseRef, default 10s
set -eu

cd "$(dirname "$0")/.."

missing() {
	echo "vault-tests: $1" >&2
	if [ "${CI:-}" = "true" ]; then
		exit 1
	fi
	echo "vault-tests: skipping the Vault server tests (CI is not true)" >&2
	exit 0
}

command -v go >/dev/null 2>&1 || missing "go is not installed"

echo "== provider/vault unit tests (-race)"
go test -race -count=1 ./provider/vault/...
echo "== provider/vault fuzz FuzzParseRef"
go test -run '^$' -fuzz '^FuzzParseRef$' -fuzztime "${FUZZTIME:-10s}" ./provider/vault

cd internal/vaulttest
if ! go mod download github.com/hashicorp/vault >/dev/null 2>&1; then
	missing "cannot download github.com/hashicorp/vault (module proxy unreachable?); run 'cd internal/vaulttest && go mod download'"
fi

# The server tests run without -race by default. The race detector would
# only instrument code already covered: provider/vault's own concurrency
# (sessions, watchers, lease cache) is run with -race by its unit tests
# above, while a -race build of the test module recompiles all of Vault a
# second time (about as long as the plain cold build again, on 2 cores)
# and runs the in-process server several times slower.
race=""
if [ "${VAULT_TESTS_RACE:-}" = "1" ]; then
	race="-race"
fi
echo "== internal/vaulttest against an in-process Vault ${race}"
go vet .
go test ${race} -count=1 -timeout 30m ./...
