//go:build unix

package awssdk

import (
	"os/exec"
	"syscall"
)

// isolateGroup runs the helper in a process group of its own and makes
// stopping it (its timeout, or the SDK giving up) kill the whole group, so
// a process the helper started cannot outlive it holding its output open.
// A helper in its own group is also not in the terminal's foreground group,
// so it cannot read a terminal either.
func isolateGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
