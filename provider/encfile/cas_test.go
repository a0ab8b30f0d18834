package encfile_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpcred/mcpcred/provider"
	"github.com/mcpcred/mcpcred/provider/encfile"
)

// childEnv, when set, makes the test binary a child of
// TestCompareAndSwapProcesses (see TestMain).
const childEnv = "ENCFILE_TEST_CAS_CHILD"

func TestMain(m *testing.M) {
	if id := os.Getenv(childEnv); id != "" {
		os.Exit(casChild(id))
	}
	os.Exit(m.Run())
}

// increments is how many times each worker adds one to the counter.
const increments = 50

// increment adds one to the counter field of name, reading again after
// every conflict, as a replica refreshing a token does.
func increment(ctx context.Context, st provider.Store, name string) (conflicts int, err error) {
	for {
		cur, err := st.Retrieve(ctx, name)
		if err != nil {
			return conflicts, err
		}
		n, _ := strconv.Atoi(cur.Value("counter"))
		err = st.CompareAndSwap(ctx, name, cur, creds("counter", strconv.Itoa(n+1)))
		if !errors.Is(err, provider.ErrConflict) {
			return conflicts, err
		}
		conflicts++
	}
}

// race makes every worker try CompareAndSwap from the same old value, and
// then add to the counter; it returns the index of the one that won.
func checkRace(t *testing.T, results []string, p *encfile.Provider) {
	t.Helper()
	ctx := context.Background()
	winner := -1
	for i, r := range results {
		switch {
		case r == "won" && winner >= 0:
			t.Fatalf("workers %d and %d both won", winner, i)
		case r == "won":
			winner = i
		case r != "conflict":
			t.Fatalf("worker %d: %s", i, r)
		}
	}
	if winner < 0 {
		t.Fatal("nobody won")
	}
	if c, err := p.Retrieve(ctx, "race"); err != nil || c.Value("token") != fmt.Sprintf("worker-%d", winner) {
		t.Fatalf("stored %v, %v; want the winner's value", c, err)
	}
	want := strconv.Itoa(len(results) * increments)
	if c, err := p.Retrieve(ctx, "counter"); err != nil || c.Value("counter") != want {
		t.Fatalf("counter %q, %v; want %s (an increment was lost)", c.Value("counter"), err, want)
	}
}

func seed(t *testing.T, p *encfile.Provider) {
	t.Helper()
	ctx := context.Background()
	if err := p.Put(ctx, "race", creds("token", "initial")); err != nil {
		t.Fatal(err)
	}
	if err := p.Put(ctx, "counter", creds("counter", "0")); err != nil {
		t.Fatal(err)
	}
}

func casResult(err error) string {
	switch {
	case err == nil:
		return "won"
	case errors.Is(err, provider.ErrConflict):
		return "conflict"
	}
	return err.Error()
}

// TestCompareAndSwapGoroutines: 8 goroutines, each with its own Provider
// or reference, swap from the same value: exactly one wins; and their
// increments of a counter are never lost.
func TestCompareAndSwapGoroutines(t *testing.T) {
	dir := storeDir(t)
	p := newStore(t, dir)
	seed(t, p)
	s := schemes()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const workers = 8
	results := make([]string, workers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range workers {
		var st provider.Store = newStore(t, dir)
		if i%2 == 1 {
			var err error
			if st, _, err = s.Store("encfile:" + dir + "/race"); err != nil {
				t.Fatal(err)
			}
		}
		counter := newStore(t, dir)
		wg.Go(func() {
			<-start
			results[i] = casResult(st.CompareAndSwap(ctx, "race", creds("token", "initial"), creds("token", fmt.Sprintf("worker-%d", i))))
			for range increments {
				if _, err := increment(ctx, counter, "counter"); err != nil {
					results[i] = err.Error()
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	checkRace(t, results, p)
}

// TestCompareAndSwapProcesses: two processes (this test binary, run
// again) swap from the same value: exactly one wins; and their increments
// of a counter are never lost.
func TestCompareAndSwapProcesses(t *testing.T) {
	dir := storeDir(t)
	p := newStore(t, dir)
	seed(t, p)
	startFile := filepath.Join(t.TempDir(), "start")
	const workers = 2
	cmds := make([]*exec.Cmd, workers)
	stderr := make([]*bytes.Buffer, workers)
	lines := make([][]string, workers)
	read := make([]chan struct{}, workers)
	ready := make(chan int, workers)
	for i := range workers {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+strconv.Itoa(i), "ENCFILE_TEST_DIR="+dir, "ENCFILE_TEST_START="+startFile,
			encfile.EnvKey+"="+base64.StdEncoding.EncodeToString(testKey))
		stderr[i] = new(bytes.Buffer)
		cmd.Stderr = stderr[i]
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
		read[i] = make(chan struct{})
		go func() {
			defer close(read[i])
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if sc.Text() == "ready" {
					ready <- i
				} else {
					lines[i] = append(lines[i], sc.Text())
				}
			}
		}()
	}
	deadline := time.After(time.Minute)
	for range workers {
		select {
		case <-ready:
		case <-deadline:
			t.Fatal("the children did not start")
		}
	}
	if err := os.WriteFile(startFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	results := make([]string, workers)
	for i, cmd := range cmds {
		<-read[i] // all of stdout, before Wait closes it
		err := cmd.Wait()
		if err != nil || len(lines[i]) != 1 {
			t.Fatalf("child %d: %v: %q %s", i, err, lines[i], stderr[i])
		}
		results[i] = strings.Fields(lines[i][0])[0]
		t.Logf("child %d: %s", i, lines[i][0])
	}
	checkRace(t, results, p)
}

// casChild is a child of TestCompareAndSwapProcesses: it says "ready",
// waits for the start file, swaps, increments, and prints the swap's
// result and how many conflicts its increments met.
func casChild(id string) int {
	p, err := encfile.New(func(o *encfile.Options) { o.Dir = os.Getenv("ENCFILE_TEST_DIR") })
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fmt.Println("ready")
	for {
		if _, err := os.Stat(os.Getenv("ENCFILE_TEST_START")); err == nil {
			break
		}
		if ctx.Err() != nil {
			return 1
		}
		time.Sleep(time.Millisecond)
	}
	res := casResult(p.CompareAndSwap(ctx, "race", creds("token", "initial"), creds("token", "worker-"+id)))
	conflicts := 0
	for range increments {
		n, err := increment(ctx, p, "counter")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		conflicts += n
	}
	fmt.Printf("%s (%d conflicts while incrementing)\n", res, conflicts)
	return 0
}
