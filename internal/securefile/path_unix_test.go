//go:build unix

package securefile

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mkdir makes dir with exactly mode (Mkdir applies the umask).
func mkdir(t *testing.T, dir string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	chmod(t, dir, mode)
	return dir
}

func chown(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.Lchown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}

// secretIn writes a 0600 file holding "x" in dir, which must exist.
func secretIn(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "credentials")
	write(t, p, "x")
	chmod(t, p, 0o600)
	return p
}

// TestPathTrust checks the StrictModes rule on every directory met while
// resolving the path: each ancestor up to /, and each directory holding a
// symlink, at every level. Trees are real, in t.TempDir(); foreign owners
// are made with chown, so the owner cases need root.
func TestPathTrust(t *testing.T) {
	root := os.Geteuid() == 0
	type want struct {
		bad    string // the directory the error must name; "" if Load must succeed
		mode   string
		fix    string // exact fix hint, after "fix with: "
		entry  string // for a sticky directory, the foreign entry
		owner  int    // foreign owner of bad, or -1
		policy Policy
	}
	tests := []struct {
		name      string
		needsRoot bool
		build     func(t *testing.T, base string) (path string, w want)
	}{
		{"symlink in a world-writable directory (the issue's /ww/link/credentials)", false, func(t *testing.T, base string) (string, want) {
			real := mkdir(t, filepath.Join(base, "real"), 0o700)
			secretIn(t, real)
			ww := mkdir(t, filepath.Join(base, "ww"), 0o777)
			symlink(t, real, filepath.Join(ww, "link"))
			return filepath.Join(ww, "link", "credentials"), want{bad: ww, mode: "0777", fix: "chmod go-w " + ShellQuote(ww), owner: -1}
		}},
		{"group-writable ancestor of the real path", false, func(t *testing.T, base string) (string, want) {
			a := mkdir(t, filepath.Join(base, "a"), 0o770)
			b := mkdir(t, filepath.Join(a, "b"), 0o700)
			return secretIn(t, b), want{bad: a, mode: "0770", fix: "chmod go-w " + ShellQuote(a), owner: -1}
		}},
		{"world-writable ancestor three levels up", false, func(t *testing.T, base string) (string, want) {
			a := mkdir(t, filepath.Join(base, "a"), 0o757)
			c := mkdir(t, filepath.Join(a, "b", "c"), 0o700)
			chmod(t, filepath.Join(a, "b"), 0o755)
			return secretIn(t, c), want{bad: a, mode: "0757", fix: "chmod go-w " + ShellQuote(a), owner: -1}
		}},
		{"symlink met inside a symlink's target", false, func(t *testing.T, base string) (string, want) {
			real := mkdir(t, filepath.Join(base, "real"), 0o700)
			file := secretIn(t, real)
			ww := mkdir(t, filepath.Join(base, "ww"), 0o777)
			symlink(t, file, filepath.Join(ww, "l2"))
			safe := mkdir(t, filepath.Join(base, "safe"), 0o700)
			symlink(t, filepath.Join(ww, "l2"), filepath.Join(safe, "l1"))
			return filepath.Join(safe, "l1"), want{bad: ww, mode: "0777", fix: "chmod go-w " + ShellQuote(ww), owner: -1}
		}},
		{"relative symlink through .. into a writable directory", false, func(t *testing.T, base string) (string, want) {
			real := mkdir(t, filepath.Join(base, "real"), 0o700)
			secretIn(t, real)
			ww := mkdir(t, filepath.Join(base, "ww"), 0o775)
			symlink(t, "../real/credentials", filepath.Join(ww, "l2"))
			safe := mkdir(t, filepath.Join(base, "safe"), 0o700)
			symlink(t, "../ww/l2", filepath.Join(safe, "l1"))
			return filepath.Join(safe, "l1"), want{bad: ww, mode: "0775", fix: "chmod go-w " + ShellQuote(ww), owner: -1}
		}},
		{"writable directory holding a symlinked directory", false, func(t *testing.T, base string) (string, want) {
			real := mkdir(t, filepath.Join(base, "real"), 0o700)
			secretIn(t, real)
			home := mkdir(t, filepath.Join(base, "home"), 0o777)
			symlink(t, real, filepath.Join(home, ".cfg"))
			return filepath.Join(home, ".cfg", "credentials"), want{bad: home, mode: "0777", fix: "chmod go-w " + ShellQuote(home), owner: -1}
		}},
		{"sticky world-writable directory, entry owned by this user", false, func(t *testing.T, base string) (string, want) {
			st := mkdir(t, filepath.Join(base, "tmp"), 0o777|os.ModeSticky)
			mine := mkdir(t, filepath.Join(st, "mine"), 0o700)
			return secretIn(t, mine), want{}
		}},
		{"sticky directory, symlink in it owned by this user", false, func(t *testing.T, base string) (string, want) {
			real := mkdir(t, filepath.Join(base, "real"), 0o700)
			file := secretIn(t, real)
			st := mkdir(t, filepath.Join(base, "tmp"), 0o777|os.ModeSticky)
			symlink(t, file, filepath.Join(st, "link"))
			return filepath.Join(st, "link"), want{policy: NotWritable}
		}},
		{"sticky directory, entry owned by another user", true, func(t *testing.T, base string) (string, want) {
			st := mkdir(t, filepath.Join(base, "tmp"), 0o777|os.ModeSticky)
			theirs := mkdir(t, filepath.Join(st, "theirs"), 0o755)
			file := secretIn(t, mkdir(t, filepath.Join(theirs, "mine"), 0o700))
			chown(t, theirs, 4242)
			return file, want{bad: st, mode: "1777", entry: theirs, owner: -1,
				fix: "chown -h 0 " + ShellQuote(theirs) + ", or keep the file out of " + ShellQuote(st)}
		}},
		{"sticky directory, symlink in it owned by another user", true, func(t *testing.T, base string) (string, want) {
			real := mkdir(t, filepath.Join(base, "real"), 0o700)
			file := secretIn(t, real)
			st := mkdir(t, filepath.Join(base, "tmp"), 0o777|os.ModeSticky)
			link := filepath.Join(st, "link")
			symlink(t, file, link)
			chown(t, link, 4242)
			return link, want{bad: st, mode: "1777", entry: link, owner: -1, policy: NotWritable,
				fix: "chown -h 0 " + ShellQuote(link) + ", or keep the file out of " + ShellQuote(st)}
		}},
		{"ancestor owned by another user", true, func(t *testing.T, base string) (string, want) {
			other := mkdir(t, filepath.Join(base, "other"), 0o755)
			d := mkdir(t, filepath.Join(other, "d"), 0o700)
			file := secretIn(t, d)
			chown(t, other, 4242)
			return file, want{bad: other, owner: 4242, fix: "chown 0 " + ShellQuote(other)}
		}},
		{"directory holding the symlink owned by another user", true, func(t *testing.T, base string) (string, want) {
			real := mkdir(t, filepath.Join(base, "real"), 0o700)
			file := secretIn(t, real)
			safe := mkdir(t, filepath.Join(base, "safe"), 0o700)
			foreign := mkdir(t, filepath.Join(safe, "foreign"), 0o755)
			symlink(t, file, filepath.Join(foreign, "link"))
			chown(t, foreign, 4242)
			return filepath.Join(foreign, "link"), want{bad: foreign, owner: 4242, fix: "chown 0 " + ShellQuote(foreign), policy: NotWritable}
		}},
		{"NotWritable: group-writable ancestor of a readable file", false, func(t *testing.T, base string) (string, want) {
			a := mkdir(t, filepath.Join(base, "a"), 0o775)
			b := mkdir(t, filepath.Join(a, "b"), 0o755)
			file := secretIn(t, b)
			chmod(t, file, 0o644)
			return file, want{bad: a, mode: "0775", fix: "chmod go-w " + ShellQuote(a), owner: -1, policy: NotWritable}
		}},
		{"NotWritable: listable ancestors are fine", false, func(t *testing.T, base string) (string, want) {
			b := mkdir(t, filepath.Join(base, "a", "b"), 0o755)
			chmod(t, filepath.Join(base, "a"), 0o755)
			file := secretIn(t, b)
			chmod(t, file, 0o644)
			return file, want{policy: NotWritable}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needsRoot && !root {
				t.Skip("chown to another uid needs root")
			}
			path, w := tt.build(t, realpath(t, t.TempDir()))
			got, err := newFile(path, func(o *Options) { o.Policy = w.policy }).Load()
			if w.bad == "" {
				if err != nil || got != "x" {
					t.Fatalf("Load = %q, %v", got, err)
				}
				return
			}
			var perr *PermissionError
			if !errors.As(err, &perr) || !errors.Is(err, ErrInsecurePermissions) {
				t.Fatalf("Load = %q, %v; want a *PermissionError naming %s", got, err, w.bad)
			}
			if perr.Path != w.bad || !perr.Dir || !perr.InPath || perr.Owner != w.owner || perr.Entry != w.entry {
				t.Errorf("PermissionError = %+v, want it to name directory %s", perr, w.bad)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "t: directory "+w.bad+" ") || !strings.HasSuffix(msg, "; fix with: "+w.fix) {
				t.Errorf("err = %q\nwant it to name %s and end with the fix %q", msg, w.bad, w.fix)
			}
			if w.mode != "" && !strings.Contains(msg, " has mode "+w.mode+": ") {
				t.Errorf("err = %q, want mode %s", msg, w.mode)
			}

			// MCP_INSECURE_MODE: the same problem is a warning, logged once.
			var logs bytes.Buffer
			f := newFile(path, func(o *Options) {
				o.Policy, o.Insecure = w.policy, true
				o.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
			})
			for range 2 {
				if got, err := f.Load(); err != nil || got != "x" {
					t.Fatalf("insecure Load = %q, %v", got, err)
				}
			}
			ws := warnings(t, logs.String())
			if len(ws) != 1 || ws[0]["path"] != w.bad || ws[0]["problem"] != msg {
				t.Errorf("warnings = %v, want one naming %s", ws, w.bad)
			}
		})
	}
}

// TestPathTrustShellQuote checks that the fix for a directory whose name
// needs quoting is single-quoted, so nothing expands when it is pasted.
func TestPathTrustShellQuote(t *testing.T) {
	base := realpath(t, t.TempDir())
	real := mkdir(t, filepath.Join(base, "real"), 0o700)
	secretIn(t, real)
	ww := mkdir(t, filepath.Join(base, "it's $HOME"), 0o777)
	symlink(t, real, filepath.Join(ww, "link"))
	_, err := newFile(filepath.Join(ww, "link", "credentials")).Load()
	want := `fix with: chmod go-w '` + base + `/it'\''s $HOME'`
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("err = %v, want it to end with %s", err, want)
	}
}

// TestPathLoop checks that a symlink loop is an error, not a hang.
func TestPathLoop(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	symlink(t, b, a)
	symlink(t, a, b)
	if _, err := newFile(a).Load(); err == nil || errors.Is(err, ErrInsecurePermissions) {
		t.Errorf("err = %v, want a resolution error", err)
	}
}

// TestCheckPath checks the exported walk used by packages that open files
// themselves.
func TestCheckPath(t *testing.T) {
	base := realpath(t, t.TempDir())
	real := mkdir(t, filepath.Join(base, "real"), 0o700)
	file := secretIn(t, real)
	ww := mkdir(t, filepath.Join(base, "ww"), 0o777)
	symlink(t, real, filepath.Join(ww, "link"))

	got, problem, err := CheckPath(filepath.Join(ww, "link", "credentials"))
	if err != nil || got != file || problem == nil || problem.Path != ww {
		t.Errorf("CheckPath = %q, %v, %v; want %s and a problem naming %s", got, problem, err, file, ww)
	}
	got, problem, err = CheckPath(file)
	if err != nil || got != file || problem != nil {
		t.Errorf("CheckPath(secure) = %q, %v, %v", got, problem, err)
	}
	if _, _, err := CheckPath(filepath.Join(ww, "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("CheckPath(missing) err = %v", err)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if p := CheckInfo(file, fi, Private); p != nil {
		t.Errorf("CheckInfo(0600) = %v", p)
	}
	chmod(t, file, 0o664)
	if fi, err = os.Stat(file); err != nil {
		t.Fatal(err)
	}
	if p := CheckInfo(file, fi, NotWritable); p == nil || p.Policy != NotWritable || Octal(p.Mode) != "0664" {
		t.Errorf("CheckInfo(0664, NotWritable) = %v", p)
	}
}
