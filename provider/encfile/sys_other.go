//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package encfile

import (
	"errors"
	"os"
)

const openFlags = os.O_RDONLY

const lockFlags = os.O_RDWR | os.O_CREATE

func isLoop(error) bool { return false }

// errNoFlock: writes need flock(2), which this platform lacks.
var errNoFlock = errors.New("encfile: writes need flock(2), which this platform does not have")

func tryLock(*os.File) (bool, error) { return false, errNoFlock }

func unlock(*os.File) {}

func syncDir(string) error { return nil }
