package nodeimages

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const testSummary = `{"node":{"nodeName":"worker-0","runtime":{"imageFs":{
  "time":"2026-12-04T10:00:00Z","availableBytes":32212254720,"capacityBytes":128849018880,
  "usedBytes":45097156608,"inodesFree":62000000,"inodes":62914560,"inodesUsed":914560}}},
  "pods":[]}`

func TestParseSummaryImageFilesystem(t *testing.T) {
	filesystem, err := ParseSummary([]byte(testSummary))
	if err != nil {
		t.Fatalf("ParseSummary: %v", err)
	}
	checks := []struct {
		name     string
		value    *uint64
		expected uint64
	}{
		{"capacityBytes", filesystem.CapacityBytes, 128849018880},
		{"availableBytes", filesystem.AvailableBytes, 32212254720},
		{"usedBytes", filesystem.UsedBytes, 45097156608},
		{"inodes", filesystem.Inodes, 62914560},
		{"inodesFree", filesystem.InodesFree, 62000000},
		{"inodesUsed", filesystem.InodesUsed, 914560},
	}
	for _, check := range checks {
		if check.value == nil {
			t.Errorf("%s is nil, expected %d", check.name, check.expected)
			continue
		}
		if *check.value != check.expected {
			t.Errorf("%s = %d, expected %d", check.name, *check.value, check.expected)
		}
	}
	percent, ok := filesystem.UsedPercent()
	if !ok || percent != 75 {
		t.Errorf("UsedPercent = %d, %v, expected 75, true", percent, ok)
	}
}

func TestParseSummaryMissingFields(t *testing.T) {
	filesystem, err := ParseSummary([]byte(`{"node":{"runtime":{"imageFs":{"usedBytes":5}}}}`))
	if err != nil {
		t.Fatalf("ParseSummary: %v", err)
	}
	if filesystem.CapacityBytes != nil {
		t.Errorf("capacityBytes = %d, expected nil", *filesystem.CapacityBytes)
	}
	if _, ok := filesystem.UsedPercent(); ok {
		t.Errorf("UsedPercent is ok without capacity")
	}
}

func TestParseSummaryInvalid(t *testing.T) {
	for _, body := range []string{`not json`, `{"node":{}}`, `{"node":{"runtime":{}}}`} {
		if _, err := ParseSummary([]byte(body)); err == nil {
			t.Errorf("ParseSummary(%s) returned no error", body)
		}
	}
}

func TestUsedPercentRounding(t *testing.T) {
	tests := []struct {
		capacity, available uint64
		expected            int64
	}{
		// The kubelet rounds the available percentage down, so usage rounds up.
		{1000, 201, 80},
		{1000, 200, 80},
		{1000, 199, 81},
		{1000, 0, 100},
		{1000, 1000, 0},
		// Available above capacity, as a racing statfs can report, counts as all free.
		{1000, 2000, 0},
		// Capacities near the top of uint64 do not overflow.
		{math.MaxUint64, math.MaxUint64 / 2, 51},
	}
	for _, test := range tests {
		filesystem := ImageFilesystem{CapacityBytes: &test.capacity,
			AvailableBytes: &test.available}
		percent, ok := filesystem.UsedPercent()
		if !ok || percent != test.expected {
			t.Errorf("UsedPercent(%d of %d available) = %d, %v, expected %d", test.available,
				test.capacity, percent, ok, test.expected)
		}
	}
	zero := uint64(0)
	if _, ok := (ImageFilesystem{CapacityBytes: &zero, AvailableBytes: &zero}).UsedPercent(); ok {
		t.Errorf("UsedPercent is ok for a capacity of 0")
	}
}

// fakeNodeProxy serves /api/v1/nodes/NAME/proxy/stats/summary on loopback: worker-hang never
// responds, worker-denied gets 403, worker-down gets the API server's 503, and every other
// node the test summary.
func fakeNodeProxy(t *testing.T, inFlight, maxInFlight *atomic.Int64) *httptest.Server {
	t.Helper()
	status := func(writer http.ResponseWriter, code int, reason, message string) {
		writer.Header().Set("Content-Type", "application/json")
		writer.WriteHeader(code)
		_ = json.NewEncoder(writer).Encode(map[string]any{"kind": "Status",
			"apiVersion": "v1", "status": "Failure", "code": code, "reason": reason,
			"message": message})
	}
	server := httptest.NewServer(http.HandlerFunc(func(writer http.ResponseWriter,
		request *http.Request) {
		current := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			seen := maxInFlight.Load()
			if current <= seen || maxInFlight.CompareAndSwap(seen, current) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)

		name, ok := strings.CutPrefix(request.URL.Path, "/api/v1/nodes/")
		name, ok2 := strings.CutSuffix(name, "/proxy/stats/summary")
		if !ok || !ok2 {
			status(writer, http.StatusNotFound, "NotFound", "unexpected path")
			return
		}
		switch name {
		case "worker-hang":
			<-request.Context().Done()
		case "worker-denied":
			status(writer, http.StatusForbidden, "Forbidden", `nodes "worker-denied" is `+
				`forbidden: User "system:serviceaccount:ci:terraform" cannot get resource `+
				`"nodes/proxy" in API group "" at the cluster scope`)
		case "worker-down":
			status(writer, http.StatusServiceUnavailable, "ServiceUnavailable",
				"error trying to reach service: dial tcp 127.1.0.5:10250: connect: "+
					"connection refused")
		default:
			writer.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprint(writer, testSummary)
		}
	}))
	t.Cleanup(server.Close)
	return server
}

func TestFilesystemReaderFailures(t *testing.T) {
	var inFlight, maxInFlight atomic.Int64
	server := fakeNodeProxy(t, &inFlight, &maxInFlight)
	client := kubernetes.NewForConfigOrDie(&rest.Config{Host: server.URL}).CoreV1().RESTClient()
	reader := FilesystemReader{Client: client, Timeout: 300 * time.Millisecond}

	nodes := []string{"worker-ok", "worker-hang", "worker-denied", "worker-down"}
	filesystems, failures := reader.Read(context.Background(), nodes)

	if _, ok := filesystems["worker-ok"]; !ok || len(filesystems) != 1 {
		t.Errorf("filesystems = %v, expected worker-ok only", filesystems)
	}
	expected := map[string]FailureReason{
		"worker-denied": ReasonForbidden,
		"worker-down":   ReasonUnreachable,
		"worker-hang":   ReasonTimeout,
	}
	if len(failures) != len(expected) {
		t.Fatalf("failures = %v, expected %d", failures, len(expected))
	}
	for i, failure := range failures {
		if i > 0 && failures[i-1].Node >= failure.Node {
			t.Errorf("failures are not sorted by node: %v", failures)
		}
		if failure.Reason != expected[failure.Node] {
			t.Errorf("node %s failed with reason %q, expected %q (%v)", failure.Node,
				failure.Reason, expected[failure.Node], failure.Err)
		}
	}
}

func TestFilesystemReaderConcurrency(t *testing.T) {
	var inFlight, maxInFlight atomic.Int64
	server := fakeNodeProxy(t, &inFlight, &maxInFlight)
	config := &rest.Config{Host: server.URL, QPS: 1000, Burst: 1000}
	client := kubernetes.NewForConfigOrDie(config).CoreV1().RESTClient()
	reader := FilesystemReader{Client: client, Concurrency: 3}

	nodes := make([]string, 40)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("node-%02d", i)
	}
	filesystems, failures := reader.Read(context.Background(), nodes)

	if len(filesystems) != len(nodes) || len(failures) != 0 {
		t.Errorf("read %d filesystems with failures %v, expected %d and none",
			len(filesystems), failures, len(nodes))
	}
	if got := maxInFlight.Load(); got > 3 {
		t.Errorf("%d requests were in flight at once, expected at most 3", got)
	}
}
