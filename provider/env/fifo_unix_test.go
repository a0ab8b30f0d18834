//go:build unix

package env_test

import (
	"context"
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/env"
)

// A FIFO named by NAME_FILE must be refused at once, not block Retrieve.
func TestFIFOIsRefusedWithoutBlocking(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "secret")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY_FILE": fifo}
	p := env.New(func(o *env.Options) { o.Getenv = func(k string) string { return vars[k] } })
	done := make(chan error, 1)
	go func() {
		_, err := p.Retrieve(context.Background(), provider.DefaultProfile)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, env.ErrNotRegular) {
			t.Fatalf("Retrieve = %v, want ErrNotRegular", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Retrieve blocked on a FIFO")
	}
}
