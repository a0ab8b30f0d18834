package awssdk_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/awssdk"
)

// A helper stopped at its timeout takes the processes it started with it:
// the helper's shell runs "sleep" as a child of its own, which would
// otherwise outlive it holding its output open.
func TestProcessTimeoutKillsGroup(t *testing.T) {
	h := isolate(t)
	pidfile := filepath.Join(h.dir, "pid")
	write(t, h.config, fmt.Sprintf("[profile sleep]\ncredential_process = %s sleep %s\n", h.helper, pidfile))
	p := newProvider(t, func(o *awssdk.Options) {
		o.LoadOptions = append(o.LoadOptions, config.WithProcessCredentialOptions(func(po *processcreds.Options) {
			po.Timeout = 300 * time.Millisecond
		}))
	})
	_, err := p.Retrieve(context.Background(), "sleep")
	if !errors.Is(err, provider.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// The group was killed when the helper timed out; the process exits
	// soon after (its output closes first, so Retrieve may return while
	// the kernel is still finishing it). Left alone it would sleep for two
	// minutes; the generous bound below only keeps a failure from hanging.
	for i := 0; alive(pid); i++ {
		if i == 6000 {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d the helper started outlived it", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid is a process that is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
