//go:build !linux

package scale

import "os/exec"

// setProcAttr does nothing outside Linux; the run stops its servers itself.
func setProcAttr(*exec.Cmd) {}
