package providertest_test

import (
	"context"
	"testing"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/providertest"
)

// wellBehaved honours the whole contract.
func wellBehaved() provider.Provider {
	return provider.WithName(provider.Func(func(ctx context.Context, profile string) (provider.Credentials, error) {
		if err := ctx.Err(); err != nil {
			return provider.Credentials{}, &provider.Error{Provider: "demo", Profile: profile, Err: err}
		}
		if profile != provider.DefaultProfile {
			return provider.Credentials{}, provider.NotFound("demo", profile, "", "only the default profile")
		}
		return provider.NewCredentials(map[string]string{
			provider.FieldAccessKeyID:     "AKIDEXAMPLE",
			provider.FieldSecretAccessKey: "CANARY-SECRET-d3adb33f",
		}, provider.Source{Provider: "demo"}), nil
	}), "demo")
}

func TestRun(t *testing.T) {
	providertest.Run(t, wellBehaved(), providertest.Options{
		MissingProfile: "prod",
		WantFields:     []string{provider.FieldAccessKeyID, provider.FieldSecretAccessKey},
		Secrets:        []string{"CANARY-SECRET-d3adb33f"},
	})
}

func TestCheckRendering(t *testing.T) {
	c, err := wellBehaved().Retrieve(context.Background(), provider.DefaultProfile)
	if err != nil {
		t.Fatal(err)
	}
	providertest.CheckRendering(t, c, "CANARY-SECRET-d3adb33f")
}
