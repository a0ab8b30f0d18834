//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package encfile

import (
	"errors"
	"os"
	"syscall"
)

// openFlags: O_NOFOLLOW so that a symbolic link put in a file's place is
// not followed, O_NONBLOCK so that a FIFO cannot block a read (it is then
// refused as not regular).
const openFlags = os.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_NONBLOCK

const lockFlags = os.O_RDWR | os.O_CREATE | syscall.O_NOFOLLOW | syscall.O_NONBLOCK

func isLoop(err error) bool { return errors.Is(err, syscall.ELOOP) }

// tryLock takes an exclusive flock(2) on f without blocking. The lock
// belongs to f's open file description, so two opens of the lock file, in
// one process or two, exclude each other.
func tryLock(f *os.File) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		case errors.Is(err, syscall.EINTR):
			continue
		}
		return false, err
	}
}

func unlock(f *os.File) { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

// syncDir makes a rename or remove in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
