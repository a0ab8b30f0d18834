//go:build unix

package secretfile_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mcpcred/mcpcred/provider/secretfile"
)

// A FIFO where a secret file belongs must be refused at once, not block
// Retrieve.
func TestFIFOIsRefusedWithoutBlocking(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "prod.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := secretfile.New(func(o *secretfile.Options) { o.Dir = dir })
	done := make(chan error, 1)
	go func() {
		_, err := p.Retrieve(context.Background(), "prod")
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, secretfile.ErrNotRegular) {
			t.Fatalf("Retrieve = %v, want ErrNotRegular", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Retrieve blocked on a FIFO")
	}
}
