package testregistry

import "syscall"

// processAttributes makes the kernel kill the registry when the thread that started it
// exits, so a test binary that dies without calling Stop leaves no registry behind. The Go
// runtime keeps its threads for the life of the process unless a goroutine exits while
// locked to one with runtime.LockOSThread, which this package never does.
func processAttributes() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
