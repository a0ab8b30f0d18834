package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/mcpcred/mcpcred/provider"
)

// secretFiles is a placeholder until provider/secretfile lands.
func secretFiles(cfg config, log *slog.Logger) provider.Provider {
	return provider.WithName("secretfile", provider.Func(func(ctx context.Context, profile string) (provider.Credentials, error) {
		return provider.Credentials{}, provider.Unavailable("secretfile", profile, "/run/secrets", errors.New("secretfile: not built in yet"))
	}))
}
