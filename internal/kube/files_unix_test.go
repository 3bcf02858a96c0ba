//go:build linux || darwin

package kube

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestCheckKubeconfigFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatalf("creating FIFO: %v", err)
	}

	problem := onlyProblem(t, checkWithin(t, Config{ConfigPaths: []string{path}}),
		AttributeConfigPath, "Unreadable Kubeconfig File")
	requireContains(t, problem.Detail, path, "named pipe")

	// A FIFO named as a credential file is rejected the same way.
	kubeconfig := writeFile(t, t.TempDir(), "config",
		kubeconfigWithUser("    tokenFile: "+path+"\n"))
	problem = onlyProblem(t, checkWithin(t, Config{ConfigPaths: []string{kubeconfig}}),
		AttributeConfigPath, "Invalid Token File")
	requireContains(t, problem.Detail, "named pipe")
}

func TestReadOpenedFileRejectsFIFO(t *testing.T) {
	// readFile checks the type before opening, but a FIFO can replace the file in between.
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatalf("creating FIFO: %v", err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := readOpenedFile(path)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, errNotRegularFile) {
			t.Errorf("readOpenedFile(FIFO) error = %v, want errNotRegularFile", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("readOpenedFile blocked on a FIFO without a writer")
	}
}
