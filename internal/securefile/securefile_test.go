package securefile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// parseText is the parse function of the tests: it returns the contents,
// and fails on contents starting with "BAD".
func parseText(data []byte) (string, error) {
	if bytes.HasPrefix(data, []byte("BAD")) {
		return "", errors.New("t: bad contents")
	}
	return string(data), nil
}

// install writes data to DIR/.cfg/file, mode 0600 in a 0700 directory.
func install(t testing.TB, data string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), ".cfg")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "file")
	write(t, path, data)
	return path
}

// write replaces path's contents in place (same inode) and keeps its mode.
func write(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func newFile(path string, optFns ...func(*Options)) *File[string] {
	o := Options{Path: path, Prefix: "t: ", What: "test file"}
	for _, fn := range optFns {
		fn(&o)
	}
	return New(o, parseText)
}

func chmod(t testing.TB, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func symlink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func realpath(t testing.TB, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestInsecureFromEnv(t *testing.T) {
	for val, want := range map[string]bool{
		"1": true, "true": true, "TRUE": true, "t": true, "True": true,
		"": false, "0": false, "false": false, "yes": false, "on": false, " 1": false,
	} {
		got := InsecureFromEnv(func(k string) string {
			if k != EnvInsecure {
				t.Errorf("read %s", k)
			}
			return val
		})
		if got != want {
			t.Errorf("%s=%q: insecure = %v, want %v", EnvInsecure, val, got, want)
		}
	}
}

func TestLoad(t *testing.T) {
	path := install(t, "hello")
	f := newFile(path)
	if f.Path() != path {
		t.Errorf("Path = %q", f.Path())
	}
	got, err := f.Load()
	if err != nil || got != "hello" {
		t.Fatalf("Load = %q, %v", got, err)
	}
}

// TestPolicy checks the mode rules of both policies on the file and its
// directory, with the exact messages.
func TestPolicy(t *testing.T) {
	if !PermChecks {
		t.Skip("no permission checks on " + runtime.GOOS)
	}
	tests := []struct {
		policy        Policy
		fileMode      os.FileMode
		dirMode       os.FileMode
		badDir, wantM string // the error's subject and mode; "" if Load must succeed
	}{
		{Private, 0o600, 0o700, "", ""},
		{Private, 0o400, 0o700, "", ""},
		{Private, 0o644, 0o700, "file", "0644"},
		{Private, 0o640, 0o700, "file", "0640"},
		{Private, 0o602, 0o700, "file", "0602"},
		{Private, 0o610, 0o700, "file", "0610"},
		{Private, 0o600, 0o750, "directory", "0750"},
		{Private, 0o600, 0o711, "directory", "0711"},
		{NotWritable, 0o644, 0o755, "", ""},
		{NotWritable, 0o604, 0o711, "", ""},
		{NotWritable, 0o664, 0o755, "file", "0664"},
		{NotWritable, 0o646, 0o755, "file", "0646"},
		{NotWritable, 0o644, 0o775, "directory", "0775"},
		{NotWritable, 0o644, 0o757, "directory", "0757"},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("policy %d file %04o dir %04o", tt.policy, tt.fileMode, tt.dirMode)
		t.Run(name, func(t *testing.T) {
			path := install(t, "x")
			dir := filepath.Dir(path)
			chmod(t, path, tt.fileMode)
			chmod(t, dir, tt.dirMode)
			got, err := newFile(path, func(o *Options) { o.Policy = tt.policy }).Load()
			if tt.badDir == "" {
				if err != nil || got != "x" {
					t.Fatalf("Load = %q, %v", got, err)
				}
				return
			}
			var perr *PermissionError
			if !errors.As(err, &perr) || !errors.Is(err, ErrInsecurePermissions) {
				t.Fatalf("err = %v, want a *PermissionError", err)
			}
			subject, fix, rule := path, "chmod 600 ", "group and others must have no access"
			if tt.badDir == "directory" {
				subject, fix = dir, "chmod 700 "
			}
			if tt.policy == NotWritable {
				fix, rule = "chmod go-w ", "group and others must not be able to write it"
			}
			want := "t: " + tt.badDir + " " + subject + " has mode " + tt.wantM + ": " + rule + "; fix with: " + fix + subject
			if err.Error() != want {
				t.Errorf("err = %q\nwant  %q", err, want)
			}
			if perr.Path != subject || perr.Dir != (tt.badDir == "directory") || Octal(perr.Mode) != tt.wantM || perr.Owner != -1 || perr.Policy != tt.policy {
				t.Errorf("PermissionError = %+v", perr)
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/home/u/.mcp/credentials": "/home/u/.mcp/credentials",
		"/tmp/a b":                 `'/tmp/a b'`,
		"/tmp/$x;rm":               `'/tmp/$x;rm'`,
		"/tmp/it's":                `'/tmp/it'\''s'`,
	} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestSymlinks checks that the real file, its real directory and the
// directory holding a symlink are checked, and nothing else.
func TestSymlinks(t *testing.T) {
	if !PermChecks {
		t.Skip("no permission checks on " + runtime.GOOS)
	}
	type setup struct {
		path    string // configured path
		badPath string // path the error must name; "" if Load must succeed
		mode    string // mode the error must name
		fix     string
		policy  Policy
	}
	secure := func(t *testing.T) string { return install(t, "x") }
	tests := []struct {
		name  string
		setup func(t *testing.T) setup
	}{
		{"symlink to an insecure file", func(t *testing.T) setup {
			target := secure(t)
			chmod(t, target, 0o644)
			link := filepath.Join(filepath.Dir(secure(t)), "link")
			symlink(t, target, link)
			return setup{path: link, badPath: realpath(t, target), mode: "0644", fix: "chmod 600"}
		}},
		{"symlink to a file in an insecure directory", func(t *testing.T) setup {
			target := secure(t)
			chmod(t, filepath.Dir(target), 0o755)
			link := filepath.Join(filepath.Dir(secure(t)), "link")
			symlink(t, target, link)
			return setup{path: link, badPath: realpath(t, filepath.Dir(target)), mode: "0755", fix: "chmod 700"}
		}},
		{"symlink in an insecure directory to a secure file", func(t *testing.T) setup {
			target := secure(t)
			dir := t.TempDir()
			chmod(t, dir, 0o755)
			link := filepath.Join(dir, "link")
			symlink(t, target, link)
			return setup{path: link, badPath: dir, mode: "0755", fix: "chmod 700 " + dir}
		}},
		{"NotWritable symlink in a group-writable directory", func(t *testing.T) setup {
			target := secure(t)
			dir := t.TempDir()
			chmod(t, dir, 0o775)
			link := filepath.Join(dir, "link")
			symlink(t, target, link)
			return setup{path: link, badPath: dir, mode: "0775", fix: "chmod go-w " + dir, policy: NotWritable}
		}},
		{"NotWritable symlink in a listable directory", func(t *testing.T) setup {
			target := secure(t)
			dir := t.TempDir()
			chmod(t, dir, 0o755)
			link := filepath.Join(dir, "link")
			symlink(t, target, link)
			return setup{path: link, policy: NotWritable}
		}},
		{"symlink in a secure directory to a secure file", func(t *testing.T) setup {
			target := secure(t)
			link := filepath.Join(filepath.Dir(secure(t)), "link")
			symlink(t, target, link)
			return setup{path: link}
		}},
		{"secure file through a symlinked directory", func(t *testing.T) setup {
			target := secure(t)
			home := t.TempDir()
			chmod(t, home, 0o755) // home directories are often world-listable
			symlink(t, filepath.Dir(target), filepath.Join(home, ".cfg"))
			return setup{path: filepath.Join(home, ".cfg", "file")}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.setup(t)
			got, err := newFile(s.path, func(o *Options) { o.Policy = s.policy }).Load()
			if s.badPath == "" {
				if err != nil || got != "x" {
					t.Fatalf("Load = %q, %v", got, err)
				}
				return
			}
			var perr *PermissionError
			if !errors.As(err, &perr) || perr.Path != s.badPath || !errors.Is(err, ErrInsecurePermissions) {
				t.Fatalf("err = %v, want a *PermissionError for %s", err, s.badPath)
			}
			for _, want := range []string{"t: ", s.badPath, s.mode, s.fix} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err = %v, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestMissing(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "dangling")
	symlink(t, filepath.Join(dir, "nowhere"), link)
	for _, tt := range []struct{ name, path, want string }{
		{"no file", filepath.Join(dir, "file"), "t: no test file at " + filepath.Join(dir, "file")},
		{"no directory", filepath.Join(dir, "nodir", "file"), "t: no test file at " + filepath.Join(dir, "nodir", "file")},
		{"dangling symlink", link, "t: " + link + " is a symlink to a missing file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newFile(tt.path).Load()
			if !errors.Is(err, fs.ErrNotExist) || err.Error() != tt.want {
				t.Errorf("err = %v, want %q wrapping fs.ErrNotExist", err, tt.want)
			}
		})
	}
}

func TestNotRegular(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dir")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := newFile(path).Load()
	want := "t: " + path + " is not a regular file (mode d---------)"
	if err == nil || err.Error() != want || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want %q", err, want)
	}
}

func TestTooLarge(t *testing.T) {
	path := install(t, strings.Repeat("x", 100))
	_, err := newFile(path, func(o *Options) { o.MaxSize = 64 }).Load()
	want := "t: test file too large: " + realpath(t, path) + " is 100 bytes, over the 64-byte limit; a test file this big is not one"
	if !errors.Is(err, ErrTooLarge) || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if _, err := newFile(path).Load(); err != nil {
		t.Errorf("default limit: %v", err)
	}
}

func TestOwner(t *testing.T) {
	if !PermChecks {
		t.Skip("no permission checks on " + runtime.GOOS)
	}
	path := install(t, "x")
	// The file's owner must be the current user (or root). As root, give the
	// file away; otherwise, pretend to be someone else.
	owner, other := os.Geteuid(), 4242
	f := newFile(path)
	if owner == 0 {
		if err := os.Chown(path, other, other); err != nil {
			t.Fatal(err)
		}
		owner = other
	} else {
		f.uid = other
	}
	_, err := f.Load()
	var perr *PermissionError
	if !errors.As(err, &perr) || perr.Owner != owner || perr.Dir || !errors.Is(err, ErrInsecurePermissions) {
		t.Fatalf("err = %v, want a *PermissionError for the file's owner %d", err, owner)
	}
	want := fmt.Sprintf("t: file %s is owned by uid %d, not by this user (uid %d) or root; fix with: chown %d %s", path, owner, perr.UID, perr.UID, path)
	if err.Error() != want {
		t.Errorf("err = %q\nwant  %q", err, want)
	}
	if os.Geteuid() != 0 {
		return
	}
	// A file owned by root is accepted, whoever runs: root owns system paths.
	if err := os.Chown(path, 0, 0); err != nil {
		t.Fatal(err)
	}
	f = newFile(path)
	f.uid = other
	if _, err := f.Load(); err != nil {
		t.Errorf("root-owned file refused: %v", err)
	}
	// The directory's owner is checked too.
	if err := os.Chown(filepath.Dir(path), 4343, 4343); err != nil {
		t.Fatal(err)
	}
	_, err = newFile(path).Load()
	if !errors.As(err, &perr) || perr.Owner != 4343 || !perr.Dir {
		t.Fatalf("err = %v, want a *PermissionError for the directory's owner", err)
	}
}

// warnings returns the Warn records of a JSON log.
func warnings(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["level"] == "WARN" {
			recs = append(recs, rec)
		}
	}
	return recs
}

// TestInsecure checks that Insecure turns refusals into warnings, logged
// once per distinct problem.
func TestInsecure(t *testing.T) {
	if !PermChecks {
		t.Skip("no permission checks on " + runtime.GOOS)
	}
	path := install(t, "x")
	chmod(t, path, 0o644)
	var logs bytes.Buffer
	f := newFile(path, func(o *Options) {
		o.Insecure = true
		o.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	load := func() {
		t.Helper()
		if got, err := f.Load(); err != nil || got != "x" {
			t.Fatalf("Load = %q, %v", got, err)
		}
	}
	load()
	load()
	chmod(t, path, 0o640) // another problem: warned again
	load()
	load()
	w := warnings(t, logs.String())
	if len(w) != 2 {
		t.Fatalf("%d warnings, want 2:\n%s", len(w), logs.String())
	}
	for i, mode := range []string{"0644", "0640"} {
		msg := "t: using a test file with insecure permissions because MCP_INSECURE_MODE is set"
		problem := "t: file " + path + " has mode " + mode + ": group and others must have no access; fix with: chmod 600 " + path
		if w[i]["msg"] != msg || w[i]["path"] != path || w[i]["mode"] != mode || w[i]["problem"] != problem {
			t.Errorf("warning %d = %v", i, w[i])
		}
	}
}

func TestCheckPrivate(t *testing.T) {
	if !PermChecks {
		t.Skip("no permission checks on " + runtime.GOOS)
	}
	notWritable := func(o *Options) { o.Policy = NotWritable }

	path := install(t, "x")
	chmod(t, path, 0o644)
	f := newFile(path, notWritable)
	if _, err := f.Load(); err != nil {
		t.Fatalf("NotWritable refused a readable file: %v", err)
	}
	err := f.CheckPrivate()
	want := "t: file " + path + " has mode 0644: group and others must have no access; fix with: chmod 600 " + path
	var perr *PermissionError
	if !errors.As(err, &perr) || perr.Policy != Private || err.Error() != want {
		t.Errorf("CheckPrivate = %v, want %q", err, want)
	}

	chmod(t, path, 0o600)
	chmod(t, filepath.Dir(path), 0o755)
	want = "t: directory " + filepath.Dir(path) + " has mode 0755: group and others must have no access; fix with: chmod 700 " + filepath.Dir(path)
	if err := f.CheckPrivate(); err == nil || err.Error() != want {
		t.Errorf("CheckPrivate = %v, want %q", err, want)
	}

	chmod(t, filepath.Dir(path), 0o700)
	if err := f.CheckPrivate(); err != nil {
		t.Errorf("CheckPrivate on a private file: %v", err)
	}

	var logs bytes.Buffer
	chmod(t, path, 0o644)
	f = newFile(path, notWritable, func(o *Options) {
		o.Insecure = true
		o.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	if err := f.CheckPrivate(); err != nil {
		t.Errorf("CheckPrivate, insecure: %v", err)
	}
	if w := warnings(t, logs.String()); len(w) != 1 || w[0]["mode"] != "0644" {
		t.Errorf("warnings = %v, want one for mode 0644", w)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := newFile(path, notWritable).CheckPrivate(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("CheckPrivate on a missing file = %v", err)
	}
}

// TestCache checks that stat data is trusted only once settled, and that
// contents are parsed again only when their hash changes.
func TestCache(t *testing.T) {
	path := install(t, "v1")
	now := time.Now()
	f := newFile(path, func(o *Options) { o.Now = func() time.Time { return now } })
	load := func(want string) {
		t.Helper()
		if got, err := f.Load(); err != nil || got != want {
			t.Fatalf("Load = %q, %v; want %q", got, err, want)
		}
	}
	for range 5 {
		load("v1")
	}
	// Just written: the stat data cannot be trusted yet, so every call reads
	// and hashes, but parses once.
	if r, n := f.Reads(), f.Parses(); r != 5 || n != 1 {
		t.Errorf("fresh file: %d reads, %d parses; want 5, 1", r, n)
	}
	now = now.Add(time.Hour)
	for range 5 {
		load("v1")
	}
	// One more read settles the entry; then stat alone answers.
	if r, n := f.Reads(), f.Parses(); r != 6 || n != 1 {
		t.Errorf("settled file: %d reads, %d parses; want 6, 1", r, n)
	}
	write(t, path, "changed")
	load("changed")
	if n := f.Parses(); n != 2 {
		t.Errorf("%d parses, want 2", n)
	}
}

// TestParseError checks that a parse error is returned as is and cached
// with the contents that caused it.
func TestParseError(t *testing.T) {
	path := install(t, "BAD")
	f := newFile(path, func(o *Options) { o.Now = func() time.Time { return time.Now().Add(time.Hour) } })
	for range 3 {
		if _, err := f.Load(); err == nil || err.Error() != "t: bad contents" {
			t.Fatalf("err = %v", err)
		}
	}
	if r, n := f.Reads(), f.Parses(); r != 1 || n != 1 {
		t.Errorf("%d reads, %d parses; want 1, 1", r, n)
	}
	write(t, path, "good")
	if got, err := f.Load(); err != nil || got != "good" {
		t.Errorf("after fixing: %q, %v", got, err)
	}
}

// TestRotation checks that a rewrite is seen on the next Load, including a
// same-size rewrite within one timestamp tick (coarse timestamps) and one
// that restores the modification time: the racy window.
func TestRotation(t *testing.T) {
	v1 := "token = AAAA-first-token\n"
	v2 := "token = BBBB-other-token\n" // same size
	tests := []struct {
		name   string
		coarse bool // timestamps of one-second resolution
		rotate func(t *testing.T, path, data string)
	}{
		{"rewrite in place", false, func(t *testing.T, path, data string) { write(t, path, data) }},
		{"rewrite in place, coarse timestamps", true, func(t *testing.T, path, data string) { write(t, path, data) }},
		{"rewrite in place, mtime restored", true, func(t *testing.T, path, data string) {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			write(t, path, data)
			if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
		}},
		{"atomic rename", false, func(t *testing.T, path, data string) {
			tmp := path + ".tmp"
			write(t, tmp, data)
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := install(t, v1)
			f := newFile(path)
			if tt.coarse {
				f.keyOf = func(fi fs.FileInfo) statKey {
					k := keyOf(fi)
					k.mtime -= k.mtime % 1e9
					k.ctime -= k.ctime % 1e9
					return k
				}
			}
			get := func() string {
				t.Helper()
				v, err := f.Load()
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			if got := get(); got != v1 {
				t.Fatalf("got %q", got)
			}
			tt.rotate(t, path, v2)
			if got := get(); got != v2 {
				t.Fatalf("after rotation got %q, want the new contents", got)
			}
			tt.rotate(t, path, v1)
			if got := get(); got != v1 {
				t.Fatalf("after second rotation got %q", got)
			}
		})
	}
}

func TestDebugLog(t *testing.T) {
	path := install(t, "x")
	var logs bytes.Buffer
	f := New(Options{Path: path, Prefix: "t: ", What: "test file",
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))},
		func(data []byte) (summary, error) { return summary(len(data)), nil })
	if _, err := f.Load(); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(logs.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %s", err, logs.String())
	}
	if rec["msg"] != "t: read test file" || rec["path"] != realpath(t, path) || rec["bytes"] != 1.0 {
		t.Errorf("debug line = %v", rec)
	}
}

type summary int

func (s summary) DebugAttrs() []any { return []any{"bytes", int(s)} }
