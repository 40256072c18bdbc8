//go:build linux

package scale

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill a server when the scale process dies
// (a panic, a kill), so that no server outlives its run.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
