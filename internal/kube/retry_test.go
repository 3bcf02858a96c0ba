package kube

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// scriptedServer responds to the requests to one path in turn with the given handlers, and
// after the last one with 200 and an empty ConfigMap. It counts every request.
type scriptedServer struct {
	server   *httptest.Server
	requests atomic.Int32
	mu       sync.Mutex
	bodies   []string
}

type step func(writer http.ResponseWriter)

func newScriptedServer(t *testing.T, steps ...step) *scriptedServer {
	t.Helper()
	scripted := &scriptedServer{}
	scripted.server = httptest.NewTLSServer(http.HandlerFunc(
		func(writer http.ResponseWriter, request *http.Request) {
			body, _ := io.ReadAll(request.Body)
			scripted.mu.Lock()
			scripted.bodies = append(scripted.bodies, string(body))
			scripted.mu.Unlock()
			index := int(scripted.requests.Add(1)) - 1
			if index < len(steps) {
				steps[index](writer)
				return
			}
			writer.Header().Set("Content-Type", "application/json")
			_, _ = writer.Write([]byte(`{"kind":"ConfigMap","apiVersion":"v1",` +
				`"metadata":{"name":"cm","namespace":"default"}}`))
		}))
	t.Cleanup(scripted.server.Close)
	return scripted
}

func respond(code int, retryAfter string) step {
	return func(writer http.ResponseWriter) {
		if retryAfter != "" {
			writer.Header().Set("Retry-After", retryAfter)
		}
		writer.Header().Set("Content-Type", "application/json")
		writer.WriteHeader(code)
		_, _ = writer.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure",` +
			`"message":"injected","code":` + strconv.Itoa(code) + `}`))
	}
}

// hangUp closes the connection without a response.
func hangUp(writer http.ResponseWriter) {
	connection, _, err := http.NewResponseController(writer).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = connection.Close()
}

// retryHarness is a clientset whose retrying transport records its waits instead of
// sleeping, and whose log calls are captured.
type retryHarness struct {
	clientset kubernetes.Interface
	mu        sync.Mutex
	waits     []time.Duration
	logs      []map[string]any
	retrying  *retryingTransport
}

func newRetryHarness(t *testing.T, server *httptest.Server) *retryHarness {
	t.Helper()
	harness := &retryHarness{}
	restConfig := mustRESTConfig(t, Config{Host: server.URL, Token: secretToken, Insecure: true})
	restConfig.Wrap(func(next http.RoundTripper) http.RoundTripper {
		// The installed retrying transport is the outermost wrapper; configure it.
		retrying, ok := next.(*retryingTransport)
		if !ok {
			t.Fatalf("outermost transport is %T, expected *retryingTransport", next)
		}
		retrying.sleep = func(_ context.Context, duration time.Duration) error {
			harness.mu.Lock()
			defer harness.mu.Unlock()
			harness.waits = append(harness.waits, duration)
			return nil
		}
		retrying.jitter = func(duration time.Duration) time.Duration { return duration }
		harness.retrying = retrying
		retrying.log = func(_ context.Context, _ string, fields map[string]any) {
			harness.mu.Lock()
			defer harness.mu.Unlock()
			harness.logs = append(harness.logs, fields)
		}
		return next
	})
	clientset, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		t.Fatalf("NewForConfig: %v", err)
	}
	harness.clientset = clientset
	return harness
}

func (h *retryHarness) create(ctx context.Context) error {
	_, err := h.clientset.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"key": "value"},
	}, metav1.CreateOptions{})
	return err
}

func TestRetryStatusesThenSuccess(t *testing.T) {
	for _, code := range []int{429, 500, 502, 503, 504} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			server := newScriptedServer(t, respond(code, ""), respond(code, ""))
			harness := newRetryHarness(t, server.server)

			if err := harness.create(context.Background()); err != nil {
				t.Fatalf("create after two %d responses: %v", code, err)
			}
			if got := server.requests.Load(); got != 3 {
				t.Errorf("server received %d requests, expected 3", got)
			}
			if len(harness.logs) != 2 {
				t.Fatalf("logged %d retries, expected 2", len(harness.logs))
			}
			if got := harness.logs[0]["reason"]; got != "status "+strconv.Itoa(code) {
				t.Errorf("reason = %v, expected status %d", got, code)
			}
		})
	}
}

func TestRetryReplaysBody(t *testing.T) {
	server := newScriptedServer(t, respond(503, ""), hangUp)
	harness := newRetryHarness(t, server.server)

	if err := harness.create(context.Background()); err != nil {
		t.Fatalf("create: %v", err)
	}
	server.mu.Lock()
	defer server.mu.Unlock()
	if len(server.bodies) != 3 {
		t.Fatalf("server received %d bodies, expected 3", len(server.bodies))
	}
	if server.bodies[0] == "" {
		t.Fatal("the first attempt sent an empty body")
	}
	for i, body := range server.bodies[1:] {
		if body != server.bodies[0] {
			t.Errorf("body of attempt %d = %q, expected the first attempt's %q", i+2, body,
				server.bodies[0])
		}
	}
}

func TestRetryBackoffDoubles(t *testing.T) {
	server := newScriptedServer(t, respond(500, ""), respond(500, ""), respond(500, ""),
		respond(500, ""))
	harness := newRetryHarness(t, server.server)

	if err := harness.create(context.Background()); err != nil {
		t.Fatalf("create: %v", err)
	}
	expected := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2 * time.Second}
	if len(harness.waits) != len(expected) {
		t.Fatalf("waits = %v, expected %v", harness.waits, expected)
	}
	for i := range expected {
		if harness.waits[i] != expected[i] {
			t.Errorf("wait %d = %v, expected %v", i+1, harness.waits[i], expected[i])
		}
	}
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	cases := []struct {
		name, retryAfter string
		expected         time.Duration
	}{
		{"seconds", "3", 3 * time.Second},
		{"capped", "120", retryMaxRetryAfter},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			server := newScriptedServer(t, respond(429, tc.retryAfter))
			harness := newRetryHarness(t, server.server)

			if err := harness.create(context.Background()); err != nil {
				t.Fatalf("create: %v", err)
			}
			if len(harness.waits) != 1 {
				t.Fatalf("waits = %v, expected one", harness.waits)
			}
			if harness.waits[0] != tc.expected {
				t.Errorf("wait = %v, expected %v", harness.waits[0], tc.expected)
			}
		})
	}
}

// TestRetryGivesUpOnce checks that the transport stops after retryMaxAttempts and that
// client-go does not retry the last Retry-After response again.
func TestRetryGivesUpOnce(t *testing.T) {
	steps := make([]step, 50)
	for i := range steps {
		steps[i] = respond(429, "1")
	}
	server := newScriptedServer(t, steps...)
	harness := newRetryHarness(t, server.server)

	err := harness.create(context.Background())
	if err == nil {
		t.Fatal("create succeeded, expected the last 429")
	}
	if !strings.Contains(err.Error(), "injected") {
		t.Errorf("error = %v, expected the server's message", err)
	}
	if got := server.requests.Load(); got != retryMaxAttempts {
		t.Errorf("server received %d requests, expected %d", got, retryMaxAttempts)
	}
}

func TestRetryTotalWaitBounded(t *testing.T) {
	server := newScriptedServer(t, respond(503, "20"), respond(503, "20"), respond(503, "20"))
	harness := newRetryHarness(t, server.server)

	if err := harness.create(context.Background()); err == nil {
		t.Fatal("create succeeded, expected the 503 after the wait budget ran out")
	}
	if got := server.requests.Load(); got != 2 {
		t.Errorf("server received %d requests, expected 2", got)
	}
}

func TestRetrySkipsClientErrors(t *testing.T) {
	for _, code := range []int{400, 401, 403, 404, 409, 422} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			server := newScriptedServer(t, respond(code, ""))
			harness := newRetryHarness(t, server.server)

			if err := harness.create(context.Background()); err == nil {
				t.Fatalf("create succeeded, expected %d", code)
			}
			if got := server.requests.Load(); got != 1 {
				t.Errorf("server received %d requests, expected 1", got)
			}
		})
	}
}

func TestRetryDroppedConnection(t *testing.T) {
	server := newScriptedServer(t, hangUp, hangUp)
	harness := newRetryHarness(t, server.server)

	ctx, record := WithAttemptRecord(context.Background())
	if err := harness.create(ctx); err != nil {
		t.Fatalf("create after two dropped connections: %v", err)
	}
	if got := server.requests.Load(); got != 3 {
		t.Errorf("server received %d requests, expected 3", got)
	}
	if got := record.Retries(); got != 2 {
		t.Errorf("record counted %d retries, expected 2", got)
	}
	if !record.EarlierAttemptMayHaveReachedServer() {
		t.Error("record does not report that a dropped attempt may have reached the server")
	}
}

func TestRetryRecordThrottleNotReached(t *testing.T) {
	server := newScriptedServer(t, respond(429, "1"), respond(503, ""))
	harness := newRetryHarness(t, server.server)

	ctx, record := WithAttemptRecord(context.Background())
	if err := harness.create(ctx); err != nil {
		t.Fatalf("create: %v", err)
	}
	if record.EarlierAttemptMayHaveReachedServer() {
		t.Error("record reports a 429 or 503 attempt as possibly handled")
	}
}

func TestRetryLogOmitsCredentials(t *testing.T) {
	server := newScriptedServer(t, respond(500, ""))
	harness := newRetryHarness(t, server.server)

	if err := harness.create(context.Background()); err != nil {
		t.Fatalf("create: %v", err)
	}
	if len(harness.logs) != 1 {
		t.Fatalf("logged %d retries, expected 1", len(harness.logs))
	}
	fields := harness.logs[0]
	for _, name := range []string{"method", "path", "attempt", "reason", "delay"} {
		if _, ok := fields[name]; !ok {
			t.Errorf("log fields %v lack %q", fields, name)
		}
	}
	for name, value := range fields {
		text, _ := value.(string)
		if strings.Contains(text, secretToken) || strings.Contains(text, "value") {
			t.Errorf("log field %s = %q contains the token or the body", name, text)
		}
	}
}

func TestRetryStopsOnCancel(t *testing.T) {
	server := newScriptedServer(t, respond(503, ""), respond(503, ""))
	harness := newRetryHarness(t, server.server)
	ctx, cancel := context.WithCancel(context.Background())
	harness.retrying.sleep = func(ctx context.Context, _ time.Duration) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}

	err := harness.create(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("create = %v, expected context.Canceled", err)
	}
	if got := server.requests.Load(); got != 1 {
		t.Errorf("server received %d requests, expected 1", got)
	}
}

func TestRetryGetConnectionErrorLeftToClientGo(t *testing.T) {
	server := newScriptedServer(t, hangUp)
	harness := newRetryHarness(t, server.server)

	_, err := harness.clientset.CoreV1().ConfigMaps("default").Get(context.Background(),
		"cm", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get after a dropped connection: %v", err)
	}
	if len(harness.logs) != 0 {
		t.Errorf("transport retried a GET connection error that client-go retries: %v",
			harness.logs)
	}
}

func TestRetryRefusedBounded(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := listener.Addr().String()
	_ = listener.Close()
	server := httptest.NewUnstartedServer(http.NotFoundHandler())
	server.URL = "https://" + address
	harness := newRetryHarness(t, server)

	if err := harness.create(context.Background()); err == nil {
		t.Fatal("create on a closed port succeeded")
	}
	if got := len(harness.logs); got != refusedMaxAttempts-1 {
		t.Errorf("retried %d times after connection refused, expected %d", got,
			refusedMaxAttempts-1)
	}
}

func TestReplayable(t *testing.T) {
	cases := []struct {
		name   string
		build  func() *http.Request
		expect bool
	}{
		{"get", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/api/v1/pods", nil)
		}, true},
		{"watch query", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/api/v1/pods?watch=true", nil)
		}, false},
		{"watch path", func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/api/v1/watch/pods", nil)
		}, false},
		{"upgrade", func() *http.Request {
			request := httptest.NewRequest(http.MethodPost, "/api/v1/pods/p/exec", nil)
			request.Header.Set("Connection", "Upgrade")
			request.Header.Set("Upgrade", "websocket")
			return request
		}, false},
		{"opaque body", func() *http.Request {
			request := httptest.NewRequest(http.MethodPost, "/api/v1/pods",
				io.NopCloser(strings.NewReader("{}")))
			request.GetBody = nil
			return request
		}, false},
		{"replayable body", func() *http.Request {
			request, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/api/v1/pods",
				strings.NewReader("{}"))
			return request
		}, true},
	}
	for _, tc := range cases {
		if got := replayable(tc.build()); got != tc.expect {
			t.Errorf("replayable(%s) = %v, expected %v", tc.name, got, tc.expect)
		}
	}
}

func TestRetryRecordIgnoresReads(t *testing.T) {
	server := newScriptedServer(t, respond(500, ""))
	harness := newRetryHarness(t, server.server)

	ctx, record := WithAttemptRecord(context.Background())
	_, err := harness.clientset.CoreV1().ConfigMaps("default").Get(ctx, "cm",
		metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got := record.Retries(); got != 1 {
		t.Errorf("record counted %d retries, expected 1", got)
	}
	if record.EarlierAttemptMayHaveReachedServer() {
		t.Error("record reports a retried GET as a possible change on the server")
	}
}

func TestRetryNodeProxySentOnce(t *testing.T) {
	server := newScriptedServer(t, respond(503, "1"), respond(503, "1"))
	harness := newRetryHarness(t, server.server)

	err := harness.clientset.CoreV1().RESTClient().Get().AbsPath(
		"/api/v1/nodes/worker-0/proxy/stats/summary").Do(context.Background()).Error()
	if err == nil {
		t.Fatal("the node proxy request succeeded, expected the 503")
	}
	if got := server.requests.Load(); got != 1 {
		t.Errorf("server received %d requests, expected 1", got)
	}
	if len(harness.logs) != 0 {
		t.Errorf("logged %d retries, expected none", len(harness.logs))
	}
}
