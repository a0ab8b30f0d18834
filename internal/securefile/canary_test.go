package securefile

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// canaries look like secrets: an access key id, a secret key, a 40-char hex
// token and a lower-case 24-char token.
var canaries = []string{
	"AKIAIOSFODNN7EXAMPLE",
	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
	"q8xk2m4v9r1t7w3z5p0n6b2c",
}

// TestCanaryEverywhere drives every error path of Load and CheckPrivate
// with secret-looking contents, and with a symlink whose target's name is
// one, and checks that no canary appears in an error or a log record. Paths
// the operator configured are shown, and so is a file or directory whose
// permissions need fixing (the fix needs it); what a file holds, and where a
// dangling or non-file link points, are not.
func TestCanaryEverywhere(t *testing.T) {
	for i, c := range canaries {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			opts := func(o *Options) { o.Logger = logger }
			check := func(what string, err error) {
				t.Helper()
				if err == nil {
					return
				}
				if s := fmt.Sprintf("%v %+v %#v", err, err, err); strings.Contains(s, c) || strings.Contains(s, strings.ReplaceAll(c, "/", "_")) {
					t.Errorf("%s: error reveals the canary: %s", what, s)
				}
			}
			parse := func(data []byte) (string, error) {
				if bytes.Contains(data, []byte("BAD")) {
					return "", errors.New("t: the contents are not valid") // a parser's error names no content
				}
				return string(data), nil
			}
			load := func(path string, fns ...func(*Options)) error {
				o := Options{Path: path, Prefix: "t: ", What: "test file"}
				opts(&o)
				for _, fn := range fns {
					fn(&o)
				}
				f := New(o, parse)
				_, err := f.Load()
				if err == nil {
					err = f.CheckPrivate()
				}
				return err
			}

			path := install(t, "token = "+c+"\n")
			check("good file", load(path))
			chmod(t, path, 0o644)
			check("insecure file", load(path))
			check("insecure file, insecure mode", load(path, func(o *Options) { o.Insecure = true }))
			check("insecure file, NotWritable", load(path, func(o *Options) { o.Policy = NotWritable }))
			chmod(t, path, 0o600)
			check("too large", load(path, func(o *Options) { o.MaxSize = 8 }))
			write(t, path, "BAD "+c)
			check("parse error", load(path))

			dir := filepath.Dir(path)
			link := filepath.Join(dir, "link")
			symlink(t, filepath.Join(dir, strings.ReplaceAll(c, "/", "_")), link)
			check("dangling symlink", load(link))
			if err := os.Mkdir(filepath.Join(dir, strings.ReplaceAll(c, "/", "_")), 0o700); err != nil {
				t.Fatal(err)
			}
			check("symlink to a directory", load(link))
			ww := filepath.Join(t.TempDir(), "ww")
			if err := os.Mkdir(ww, 0o700); err != nil {
				t.Fatal(err)
			}
			chmod(t, ww, 0o777)
			symlink(t, path, filepath.Join(ww, "l"))
			check("symlink in a writable directory", load(filepath.Join(ww, "l")))
			check("symlink in a writable directory, insecure mode", load(filepath.Join(ww, "l"), func(o *Options) { o.Insecure = true }))

			if s := logs.String(); strings.Contains(s, c) || strings.Contains(s, strings.ReplaceAll(c, "/", "_")) {
				t.Errorf("logs reveal the canary:\n%s", s)
			}
		})
	}
}
