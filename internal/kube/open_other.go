//go:build !unix

package kube

// openNonBlocking is zero where O_NONBLOCK is not an open flag. readFile rejects FIFOs by
// their type before opening them on every system.
const openNonBlocking = 0
