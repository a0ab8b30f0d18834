//go:build !unix

package awssdk

import "os/exec"

// isolateGroup does nothing where process groups are not available; the
// helper alone is stopped, and Options.ProcessWaitDelay bounds the wait for
// its output.
func isolateGroup(*exec.Cmd) {}
