package securefile

import (
	"path/filepath"
)

// RealPath returns path with every symbolic link in it resolved, as far as
// the path exists: the longest existing prefix is resolved and the rest is
// joined to it unchanged. A reference scheme lists both the path as written
// and its real path as resources, so that a policy covering one place never
// admits a read elsewhere through a link.
func RealPath(path string) string {
	path = filepath.Clean(path)
	rest := ""
	for p := path; ; {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(real, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return path
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}
