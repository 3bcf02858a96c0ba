package nodeimages

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// oversizedSummary is a valid summary padded with trailing whitespace to just over
// maxSummaryBytes, which json.Unmarshal accepts.
func oversizedSummary() []byte {
	padding := maxSummaryBytes + 1 - len(testSummary)
	return append([]byte(testSummary), bytes.Repeat([]byte(" "), padding)...)
}

// summaryServer serves body as every node's summary on loopback, gzip-compressed when
// compressed is true, and counts the requests.
func summaryServer(t *testing.T, body []byte, compressed bool, requests *atomic.Int64,
) *httptest.Server {
	t.Helper()
	var encoded bytes.Buffer
	if compressed {
		writer := gzip.NewWriter(&encoded)
		if _, err := writer.Write(body); err != nil {
			t.Fatalf("compressing the summary: %v", err)
		}
		if err := writer.Close(); err != nil {
			t.Fatalf("compressing the summary: %v", err)
		}
	}
	server := httptest.NewServer(http.HandlerFunc(func(writer http.ResponseWriter,
		request *http.Request) {
		requests.Add(1)
		writer.Header().Set("Content-Type", "application/json")
		if compressed {
			writer.Header().Set("Content-Encoding", "gzip")
			_, _ = writer.Write(encoded.Bytes())
			return
		}
		_, _ = writer.Write(body)
	}))
	t.Cleanup(server.Close)
	return server
}

func TestFilesystemReaderOversizedSummary(t *testing.T) {
	for _, compressed := range []bool{false, true} {
		t.Run(fmt.Sprintf("gzip=%v", compressed), func(t *testing.T) {
			var requests atomic.Int64
			server := summaryServer(t, oversizedSummary(), compressed, &requests)
			client := kubernetes.NewForConfigOrDie(&rest.Config{Host: server.URL}).
				CoreV1().RESTClient()
			reader := FilesystemReader{Client: client, Timeout: 20 * time.Second}

			filesystems, failures := reader.Read(context.Background(), []string{"worker-0"})

			if requests.Load() != 1 {
				t.Fatalf("the server received %d requests, expected 1", requests.Load())
			}
			if len(filesystems) != 0 {
				t.Errorf("read a summary of more than %d bytes, expected a failure",
					maxSummaryBytes)
			}
			if len(failures) != 1 {
				t.Fatalf("failures = %v, expected one", failures)
			}
			if failures[0].Reason != ReasonInvalid {
				t.Errorf("reason = %q, expected %q", failures[0].Reason, ReasonInvalid)
			}
			if !strings.Contains(failures[0].Err.Error(), "larger than") {
				t.Errorf("error = %q, expected it to name the size limit", failures[0].Err)
			}
		})
	}
}

func TestFilesystemReaderSummaryAtLimit(t *testing.T) {
	body := oversizedSummary()[:maxSummaryBytes]
	var requests atomic.Int64
	server := summaryServer(t, body, false, &requests)
	client := kubernetes.NewForConfigOrDie(&rest.Config{Host: server.URL}).CoreV1().RESTClient()
	reader := FilesystemReader{Client: client, Timeout: 20 * time.Second}

	filesystems, failures := reader.Read(context.Background(), []string{"worker-0"})

	if len(failures) != 0 {
		t.Errorf("failures = %v, expected none for a summary of exactly %d bytes", failures,
			maxSummaryBytes)
	}
	if _, ok := filesystems["worker-0"]; !ok {
		t.Errorf("filesystems = %v, expected worker-0", filesystems)
	}
}

// A kubelet that sends its summary a byte at a time is cut off at the timeout.
func TestFilesystemReaderTrickleTimesOut(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(writer http.ResponseWriter,
		request *http.Request) {
		writer.Header().Set("Content-Type", "application/json")
		flusher := writer.(http.Flusher)
		for i := 0; i < 200; i++ {
			if _, err := writer.Write([]byte(" ")); err != nil {
				return
			}
			flusher.Flush()
			select {
			case <-request.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}))
	t.Cleanup(server.Close)
	client := kubernetes.NewForConfigOrDie(&rest.Config{Host: server.URL}).CoreV1().RESTClient()
	reader := FilesystemReader{Client: client, Timeout: 300 * time.Millisecond}

	started := time.Now()
	_, failures := reader.Read(context.Background(), []string{"worker-0"})
	elapsed := time.Since(started)

	if len(failures) != 1 {
		t.Fatalf("failures = %v, expected one", failures)
	}
	if failures[0].Reason != ReasonTimeout {
		t.Errorf("reason = %q, expected %q (%v)", failures[0].Reason, ReasonTimeout,
			failures[0].Err)
	}
	if elapsed > 5*time.Second {
		t.Errorf("the read took %s, expected it to stop near the 300ms timeout", elapsed)
	}
}

func TestParseSummaryHostileNumbers(t *testing.T) {
	cases := map[string]string{
		"negative":  `{"node":{"runtime":{"imageFs":{"capacityBytes":-1}}}}`,
		"overflow":  `{"node":{"runtime":{"imageFs":{"capacityBytes":18446744073709551616}}}}`,
		"fraction":  `{"node":{"runtime":{"imageFs":{"capacityBytes":1.5}}}}`,
		"string":    `{"node":{"runtime":{"imageFs":{"capacityBytes":"1"}}}}`,
		"deep":      strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
		"truncated": `{"node":{"runtime":{"imageFs":{"capacityBytes":1`,
	}
	for name, body := range cases {
		if _, err := ParseSummary([]byte(body)); err == nil {
			t.Errorf("%s: ParseSummary accepted %.60q", name, body)
		}
	}
}

func TestUsedPercentHostileFigures(t *testing.T) {
	value := func(v uint64) *uint64 { return &v }
	cases := []struct {
		name       string
		filesystem ImageFilesystem
		percent    int64
		ok         bool
	}{
		{"capacity 0", ImageFilesystem{CapacityBytes: value(0), AvailableBytes: value(0)}, 0,
			false},
		{"available above capacity",
			ImageFilesystem{CapacityBytes: value(10), AvailableBytes: value(20)}, 0, true},
		{"maximum figures", ImageFilesystem{CapacityBytes: value(^uint64(0)),
			AvailableBytes: value(^uint64(0) - 1)}, 1, true},
		{"nothing available",
			ImageFilesystem{CapacityBytes: value(^uint64(0)), AvailableBytes: value(0)}, 100,
			true},
	}
	for _, c := range cases {
		percent, ok := c.filesystem.UsedPercent()
		if ok != c.ok {
			t.Errorf("%s: ok = %v, expected %v", c.name, ok, c.ok)
		}
		if percent != c.percent {
			t.Errorf("%s: percent = %d, expected %d", c.name, percent, c.percent)
		}
	}
}

func TestFilesystemReaderThousandsOfNodes(t *testing.T) {
	var inFlight, maxInFlight atomic.Int64
	server := fakeNodeProxy(t, &inFlight, &maxInFlight)
	config := &rest.Config{Host: server.URL, QPS: 10000, Burst: 10000}
	client := kubernetes.NewForConfigOrDie(config).CoreV1().RESTClient()
	reader := FilesystemReader{Client: client}
	nodes := make([]string, 3000)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("node-%04d", i)
	}

	started := time.Now()
	filesystems, failures := reader.Read(context.Background(), nodes)
	t.Logf("read %d nodes in %s", len(nodes), time.Since(started))

	if len(filesystems) != len(nodes) {
		t.Errorf("read %d filesystems, expected %d", len(filesystems), len(nodes))
	}
	if len(failures) != 0 {
		t.Errorf("%d failures, expected none; first %v", len(failures), failures[0])
	}
	if got := maxInFlight.Load(); got > DefaultFilesystemConcurrency {
		t.Errorf("%d requests were in flight at once, expected at most %d", got,
			DefaultFilesystemConcurrency)
	}
}
