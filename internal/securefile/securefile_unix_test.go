//go:build unix

package securefile

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFIFO checks that a FIFO in the file's place neither blocks Load nor is
// read.
func TestFIFO(t *testing.T) {
	fifo := filepath.Join(filepath.Dir(install(t, "")), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	done := make(chan error, 1)
	go func() { _, err := newFile(fifo).Load(); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file (mode p") {
			t.Errorf("fifo: err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Load blocked on a FIFO")
	}
}
