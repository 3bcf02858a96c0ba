package testcluster

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestProcessStopWithSIGTERM(t *testing.T) {
	p, err := startProcess("sleep", "/bin/sleep", []string{"60"}, t.TempDir(),
		filepath.Join(t.TempDir(), "sleep.log"))
	if err != nil {
		t.Fatal(err)
	}

	if killed := p.stop(5 * time.Second); killed {
		t.Errorf("stop needed SIGKILL for a program that exits on SIGTERM")
	}
	if !p.exited() {
		t.Errorf("program still running after stop")
	}
	// Stopping again does nothing.
	if killed := p.stop(time.Millisecond); killed {
		t.Errorf("second stop reported a kill")
	}
}

func TestProcessStopEscalatesToSIGKILL(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "stubborn.log")
	script := `trap "" TERM; echo trapped; while :; do sleep 0.1; done`
	p, err := startProcess("stubborn", "/bin/sh", []string{"-c", script}, dir, logPath)
	if err != nil {
		t.Fatal(err)
	}
	waitForLog(t, logPath, "trapped")

	began := time.Now()
	if killed := p.stop(300 * time.Millisecond); !killed {
		t.Errorf("stop did not report SIGKILL for a program that ignores SIGTERM")
	}
	if elapsed := time.Since(began); elapsed < 300*time.Millisecond {
		t.Errorf("stop returned after %s, before the grace period ended", elapsed)
	}
	if !p.exited() {
		t.Errorf("program still running after stop")
	}
}

func TestProcessStartupErrorQuotesLog(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "failing.log")
	script := `for i in $(seq 1 100); do echo "line $i"; done
echo "listen tcp 127.0.0.1:2379: bind: address already in use"; exit 3`
	p, err := startProcess("failing", "/bin/sh", []string{"-c", script}, dir, logPath)
	if err != nil {
		t.Fatal(err)
	}
	<-p.done

	err = p.exitError()
	message := err.Error()
	for _, expected := range []string{"failing exited during start-up", "exit status 3",
		"address already in use", "line 100", logPath} {
		if !strings.Contains(message, expected) {
			t.Errorf("error does not contain %q:\n%s", expected, message)
		}
	}
	if strings.Contains(message, "line 50\n") {
		t.Errorf("error quotes more than the last %d lines:\n%s", logTailLines, message)
	}
	if !errors.Is(err, errPortInUse) {
		t.Errorf("error does not wrap errPortInUse")
	}
}

func TestProcessDiesWithParent(t *testing.T) {
	// The helper is this test binary running TestHelperStartsSleep: it starts a sleep with
	// startProcess, prints the sleep's process ID and waits to be killed.
	helper := exec.Command(os.Args[0], "-test.run=^TestHelperStartsSleep$")
	helper.Env = append(os.Environ(), "TESTCLUSTER_HELPER_DIR="+t.TempDir())
	stdout, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}

	var sleepPID int
	scanner := bufio.NewScanner(stdout)
	for scanner.Scan() {
		if value, ok := strings.CutPrefix(scanner.Text(), "sleep pid "); ok {
			sleepPID, _ = strconv.Atoi(value)
			break
		}
	}
	if sleepPID == 0 {
		helper.Process.Kill()
		helper.Wait()
		t.Fatalf("the helper did not report the sleep's process ID")
	}

	helper.Process.Kill()
	helper.Wait()

	deadline := time.Now().Add(5 * time.Second)
	for processAlive(sleepPID) {
		if time.Now().After(deadline) {
			syscall.Kill(sleepPID, syscall.SIGKILL)
			t.Fatalf("sleep %d outlived its killed parent", sleepPID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHelperStartsSleep(t *testing.T) {
	dir := os.Getenv("TESTCLUSTER_HELPER_DIR")
	if dir == "" {
		t.Skip("runs only as the helper of TestProcessDiesWithParent")
	}
	p, err := startProcess("sleep", "/bin/sleep", []string{"300"}, dir,
		filepath.Join(dir, "sleep.log"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("sleep pid %d\n", p.pid())
	time.Sleep(time.Minute)
}

// processAlive reports whether a process exists and is not a zombie.
func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	end := strings.LastIndexByte(string(stat), ')')
	return end > 0 && end+2 < len(stat) && stat[end+2] != 'Z'
}

func waitForLog(t *testing.T, path, text string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), text) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not contain %q after 5 s", path, text)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFileTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var content strings.Builder
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&content, "line %d\n", i)
	}
	if err := os.WriteFile(path, []byte(content.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	if tail := fileTail(path, 3); tail != "line 18\nline 19\nline 20" {
		t.Errorf("fileTail(3) = %q, expected the last 3 lines", tail)
	}
	if tail := fileTail(path, 100); !strings.HasPrefix(tail, "line 1\n") {
		t.Errorf("fileTail(100) = %q, expected the whole file", tail)
	}
	if tail := fileTail(filepath.Join(t.TempDir(), "missing"), 3); !strings.Contains(tail,
		"log unavailable") {
		t.Errorf("fileTail of a missing file = %q, expected a note that it is unavailable", tail)
	}
}

func TestFreePortsDistinct(t *testing.T) {
	ports, err := freePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, port := range ports {
		if port <= 0 || seen[port] {
			t.Errorf("freePorts returned %v, expected 5 distinct positive ports", ports)
		}
		seen[port] = true
	}
}
