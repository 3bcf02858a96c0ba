//go:build unix

package kube

import "syscall"

// openNonBlocking makes opening a FIFO return at once instead of waiting for a writer. It has
// no effect on regular files.
const openNonBlocking = syscall.O_NONBLOCK
