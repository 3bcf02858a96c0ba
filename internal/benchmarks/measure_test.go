package benchmarks

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
)

// mebibyte is 1 MiB in bytes.
const mebibyte = 1 << 20

// pollInterval is how often descendants of a measured command are sampled.
const pollInterval = 20 * time.Millisecond

// selfMemory is the resident set size of this process around one in-process operation.
type selfMemory struct {
	// beforeMiB is the resident set after a garbage collection that returned free memory to
	// the kernel, just before the operation.
	beforeMiB float64
	// peakMiB is the largest resident set while the operation ran, VmHWM after resetting it.
	peakMiB float64
}

// measureSelfMemory runs work and returns this process's peak resident set during it. It
// collects garbage and returns freed memory to the kernel first, then resets the kernel's
// high-water mark by writing 5 to /proc/self/clear_refs (Linux 4.0 and later), so the peak
// covers the operation and what the process held before it.
func measureSelfMemory(work func() error) (selfMemory, error) {
	runtime.GC()
	debug.FreeOSMemory()

	var memory selfMemory
	before, err := readStatusKiB("/proc/self/status", "VmRSS")
	if err != nil {
		return memory, err
	}
	memory.beforeMiB = float64(before) / 1024
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return memory, fmt.Errorf("resetting the peak resident set: %w", err)
	}

	if err := work(); err != nil {
		return memory, err
	}

	peak, err := readStatusKiB("/proc/self/status", "VmHWM")
	if err != nil {
		return memory, err
	}
	memory.peakMiB = float64(peak) / 1024
	return memory, nil
}

// readStatusKiB returns a field such as VmHWM from a /proc/PID/status file, in KiB.
func readStatusKiB(path, field string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}

	scanner := bufio.NewScanner(bytes.NewReader(data))
	for scanner.Scan() {
		name, value, ok := strings.Cut(scanner.Text(), ":")
		if !ok || name != field {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing %s in %s: %w", field, path, err)
		}
		return kib, nil
	}
	return 0, fmt.Errorf("%s has no %s field", path, field)
}

// commandRun is the measurement of one finished command.
type commandRun struct {
	// maxRSSMiB is ru_maxrss of the command as wait4 returns it: the largest of the
	// command's own peak, the peaks of the descendants it waited for, and the resident set
	// of this process when it started the command. The last term comes from Linux's execve,
	// which counts the peak of the address space it replaces. Go starts commands with
	// clone(CLONE_VFORK|CLONE_VM), so that address space is this process's. runMeasured
	// resets this process's peak to its resident set, about 50 MiB in the runs recorded in
	// BENCHMARKS.md, before the start.
	maxRSSMiB float64
	// ownPeakMiB is the last VmHWM sampled from the command's own process before it exited.
	ownPeakMiB float64
	// descendantsPeakMiB is the largest VmHWM sampled from any one descendant process, such
	// as one of the provider plugin processes that terraform starts one after the other.
	// Zero when the command started none.
	descendantsPeakMiB float64
}

// runMeasured runs cmd with the benchmark timer on only while the command runs, and returns
// its peak memory. Output that cmd does not redirect is discarded.
func runMeasured(b *testing.B, cmd *exec.Cmd) (commandRun, error) {
	b.Helper()
	var stderr bytes.Buffer
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}

	var run commandRun
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return run, fmt.Errorf("resetting the peak resident set: %w", err)
	}

	b.StartTimer()
	if err := cmd.Start(); err != nil {
		b.StopTimer()
		return run, err
	}
	peaks := watchProcessTree(cmd.Process.Pid)
	err := cmd.Wait()
	b.StopTimer()
	run.ownPeakMiB, run.descendantsPeakMiB = peaks()

	if err != nil {
		return run, fmt.Errorf("%s: %w\n%s", filepath.Base(cmd.Path), err,
			lastLines(stderr.String(), 20))
	}
	usage, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return run, fmt.Errorf("no resource usage for %s", cmd.Path)
	}
	// Linux reports ru_maxrss in KiB.
	run.maxRSSMiB = float64(usage.Maxrss) / 1024
	return run, nil
}

// watchProcessTree samples VmHWM of pid and of every descendant of pid until the returned
// function is called. That function returns the last sample of pid and the largest sample of
// any one descendant, in MiB. VmHWM only grows, so the samples miss only growth in the last
// poll interval of each process.
func watchProcessTree(pid int) func() (own, descendant float64) {
	done := make(chan struct{})
	var wait sync.WaitGroup
	peaks := map[int]int64{}

	wait.Go(func() {
		ticker := time.NewTicker(pollInterval)
		defer ticker.Stop()
		for {
			for _, process := range append([]int{pid}, descendants(pid)...) {
				kib, err := readStatusKiB(fmt.Sprintf("/proc/%d/status", process), "VmHWM")
				if err != nil {
					continue // exited between listing and reading
				}
				peaks[process] = max(peaks[process], kib)
			}
			select {
			case <-done:
				return
			case <-ticker.C:
			}
		}
	})

	return func() (own, descendant float64) {
		close(done)
		wait.Wait()
		var largest int64
		for process, kib := range peaks {
			if process != pid {
				largest = max(largest, kib)
			}
		}
		return float64(peaks[pid]) / 1024, float64(largest) / 1024
	}
}

// descendants returns the process IDs below pid, read from /proc/PID/task/TID/children, which
// Linux provides with CONFIG_PROC_CHILDREN. It returns what it found when a process exits
// while it reads.
func descendants(pid int) []int {
	var found []int
	pending := []int{pid}
	for len(pending) > 0 {
		parent := pending[0]
		pending = pending[1:]
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", parent))
		if err != nil {
			continue
		}
		for _, task := range tasks {
			data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", parent, task.Name()))
			if err != nil {
				continue
			}
			for field := range strings.FieldsSeq(string(data)) {
				child, err := strconv.Atoi(field)
				if err == nil {
					found = append(found, child)
					pending = append(pending, child)
				}
			}
		}
	}
	return found
}

// lastLines returns at most n lines from the end of text.
func lastLines(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// apiRequestCounter reads the API server's request counter for one resource.
type apiRequestCounter struct {
	client   kubernetes.Interface
	resource string
}

// total returns the sum of apiserver_request_total over every verb, code and scope for the
// counter's resource, read from the API server's /metrics.
func (c apiRequestCounter) total(ctx context.Context) (float64, error) {
	data, err := c.client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the API server's metrics: %w", err)
	}

	label := fmt.Sprintf(`resource=%q`, c.resource)
	var total float64
	scanner := bufio.NewScanner(bytes.NewReader(data))
	scanner.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for scanner.Scan() {
		line := scanner.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") || !strings.Contains(line, label) {
			continue
		}
		fields := strings.Fields(line)
		value, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("parsing the metric line %q: %w", line, err)
		}
		total += value
	}
	return total, scanner.Err()
}

// count returns how many requests for the counter's resource the API server received while
// work ran. Requests from other clients in that time count too.
func (c apiRequestCounter) count(ctx context.Context, work func() error) (float64, error) {
	before, err := c.total(ctx)
	if err != nil {
		return 0, err
	}
	if err := work(); err != nil {
		return 0, err
	}
	after, err := c.total(ctx)
	if err != nil {
		return 0, err
	}
	return after - before, nil
}
