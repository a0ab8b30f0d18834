// Package vaulttest tests provider/vault against a real Vault server, run
// in-process from github.com/hashicorp/vault's own test helpers.
//
// It is a separate module so that the library's go.mod never depends on
// Vault's server code (BUSL-licensed, and very large). Run it with
// .ci/vault-tests.sh, or:
//
//	cd internal/vaulttest && go test ./...
//
// The first build compiles Vault and takes several minutes.
package vaulttest
