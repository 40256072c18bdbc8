//go:build !linux

package e2e

import "os/exec"

// setProcAttr does nothing here; t.Cleanup still kills every process.
func setProcAttr(*exec.Cmd) {}
