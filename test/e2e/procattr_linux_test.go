//go:build linux

package e2e

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill a child process when the test binary
// dies (a panic, a -timeout), so no server outlives its test.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
