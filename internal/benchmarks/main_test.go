package benchmarks

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Environment variables that select what the benchmarks run.
const (
	// envBench enables the benchmarks when set to 1. Without it every benchmark skips, so
	// that `go test ./...` compiles them but starts no control plane.
	envBench = "IMAGEDIST_BENCH"
	// envBenchNodes is a comma-separated list of node counts, one control plane each.
	envBenchNodes = "IMAGEDIST_BENCH_NODES"
	// envProviderBinary names a built provider binary for the Terraform variants. When it is
	// empty, the benchmarks build one into a temporary directory.
	envProviderBinary = "IMAGEDIST_BENCH_PROVIDER"
)

// defaultBenchNodes is used when envBenchNodes is empty.
const defaultBenchNodes = "1000,5000"

// cleanups are the stop functions of what the benchmarks started once for the whole run,
// called by TestMain in reverse order after the last benchmark.
var (
	cleanupsMu sync.Mutex
	cleanups   []func()
)

// registerCleanup adds a function for TestMain to call after every benchmark has run.
func registerCleanup(cleanup func()) {
	cleanupsMu.Lock()
	defer cleanupsMu.Unlock()
	cleanups = append(cleanups, cleanup)
}

func TestMain(m *testing.M) {
	// An interrupt, as from Ctrl-C or tools/bench.sh's time limit, would end the process
	// without the cleanups, and each control plane's directory, with its etcd data, would
	// stay behind in the temporary directory.
	interrupts := make(chan os.Signal, 1)
	signal.Notify(interrupts, os.Interrupt, syscall.SIGTERM)
	go func() {
		received := <-interrupts
		fmt.Fprintf(os.Stderr, "benchmarks: %v received, stopping the control planes\n", received)
		runCleanups()
		os.Exit(1)
	}()

	code := m.Run()
	signal.Stop(interrupts)
	runCleanups()
	os.Exit(code)
}

// runCleanups runs the registered cleanups, last first, once.
func runCleanups() {
	cleanupsMu.Lock()
	defer cleanupsMu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
}

// requireBench skips the benchmark unless envBench is 1.
func requireBench(b *testing.B) {
	b.Helper()
	if os.Getenv(envBench) != "1" {
		b.Skipf("set %s=1 to run the benchmarks (tools/bench.sh does)", envBench)
	}
}

// benchNodeCounts returns the node counts from envBenchNodes, or defaultBenchNodes.
func benchNodeCounts() ([]int, error) {
	value := os.Getenv(envBenchNodes)
	if strings.TrimSpace(value) == "" {
		value = defaultBenchNodes
	}

	var counts []int
	for field := range strings.SplitSeq(value, ",") {
		count, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || count <= 0 {
			return nil, fmt.Errorf("invalid %s %q: expected positive node counts separated "+
				"by commas, such as %q", envBenchNodes, value, defaultBenchNodes)
		}
		counts = append(counts, count)
	}
	return counts, nil
}

// logProgress writes a progress line to stderr, which go test passes through while a
// benchmark runs, unlike b.Logf, which prints after it ends.
func logProgress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchmarks: "+format+"\n", args...)
}
