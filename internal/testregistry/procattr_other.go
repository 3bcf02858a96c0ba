//go:build !linux

package testregistry

import "syscall"

// processAttributes returns empty attributes. Outside Linux there is no parent-death signal,
// so a test binary that dies without calling Stop leaves the registry running.
func processAttributes() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{}
}
