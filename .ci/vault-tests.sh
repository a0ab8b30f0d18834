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
#   VAULT_TESTS_RACE=0 build the server tests without -race (see below)
#   FUZZTIME           fuzz time for FuzzParseRef, default 10s
#   VAULT_TESTS_SERVER_ONLY=1  skip the unit tests and fuzzing (.ci/run does
#                      them with the rest of the module)
#
# Arguments are passed to go test (for example -v).
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

if [ "${VAULT_TESTS_SERVER_ONLY:-}" != "1" ]; then
	echo "== provider/vault unit tests (-race)"
	go test -race -count=1 "$@" ./provider/vault/...
	echo "== provider/vault fuzz FuzzParseRef"
	go test -run '^$' -fuzz '^FuzzParseRef$' -fuzztime "${FUZZTIME:-10s}" ./provider/vault
fi

cd internal/vaulttest
if ! go mod download github.com/hashicorp/vault >/dev/null 2>&1; then
	missing "cannot download github.com/hashicorp/vault (module proxy unreachable?); run 'cd internal/vaulttest && go mod download'"
fi

# The server tests run with -race. A -race build is its own build cache, so
# what costs time is building Vault once in whichever mode is used: about
# 8.5 minutes cold on 2 shared cores either way (measured 8m50s plain,
# 8m16s -race), 20-25 seconds warm (-race adds ~5s to the run). Building
# only the -race variant keeps it to one cold build; that is also why there
# is no separate 'go vet' here (it would need the plain build too; go test
# runs its own vet checks). The race detector earns its place here: token
# renewal, re-login and lease watchers run in goroutines against a real
# server. VAULT_TESTS_RACE=0 turns it off.
race="-race"
if [ "${VAULT_TESTS_RACE:-1}" = "0" ]; then
	race=""
fi
echo "== internal/vaulttest against an in-process Vault ${race}"
go test ${race} -count=1 -timeout 30m "$@" ./...
