//go:build unix

package file

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFIFO(t *testing.T) {
	dir := filepath.Dir(installBytes(t, nil))
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	done := make(chan error, 1)
	go func() { _, err := newAt(fifo).Retrieve(context.Background(), "default"); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("fifo: err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Retrieve blocked on a FIFO")
	}
}
