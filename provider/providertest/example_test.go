package providertest_test

import (
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
)

// Run the suite from your provider's tests.
func ExampleRun() {
	_ = func(t *testing.T) {
		providertest.Run(t, wellBehaved(), providertest.Options{
			Profile:        provider.DefaultProfile, // has data
			MissingProfile: "prod",                  // has none: must wrap provider.ErrNotFound
			WantFields:     []string{provider.FieldAccessKeyID},
			Secrets:        []string{"CANARY-SECRET-d3adb33f"}, // must never be printed
		})
	}
}
