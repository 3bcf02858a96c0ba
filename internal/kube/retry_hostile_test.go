package kube

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestRetryAfterHugeSecondsNotNegative checks that a Retry-After too large for a
// time.Duration is capped instead of wrapping to a negative wait, which would retry at once
// and shrink the total wait that the budget has counted.
func TestRetryAfterHugeSecondsNotNegative(t *testing.T) {
	for _, value := range []string{"9300000000", "18446744073", "9223372036854775807"} {
		response := &http.Response{Header: http.Header{"Retry-After": []string{value}}}
		wait, ok := retryAfter(response)
		if !ok {
			continue
		}
		if wait < 0 {
			t.Errorf("retryAfter(%q) = %v, expected a wait that is not negative", value, wait)
		}
		transport := newRetryingTransport(nil, nil)
		if delay := transport.delay(1, response); delay < 0 || delay > retryMaxRetryAfter {
			t.Errorf("delay for Retry-After %q = %v, expected 0 to %v", value, delay,
				retryMaxRetryAfter)
		}
	}
}

// TestRetryHugeRetryAfterKeepsBudget checks that an overflowing Retry-After does not let the
// later waits add up to more than retryMaxTotalWait.
func TestRetryHugeRetryAfterKeepsBudget(t *testing.T) {
	server := newScriptedServer(t, respond(503, "9300000000"), respond(503, "20"),
		respond(503, "20"), respond(503, "20"))
	harness := newRetryHarness(t, server.server)

	_ = harness.create(context.Background())
	var total time.Duration
	for _, wait := range harness.waits {
		if wait < 0 {
			t.Errorf("waited %v, a negative wait", wait)
		}
		total += max(wait, 0)
	}
	if total > retryMaxTotalWait {
		t.Errorf("waits %v add up to %v, more than retryMaxTotalWait %v", harness.waits,
			total, retryMaxTotalWait)
	}
}

// TestRetryTrickledBodyBounded checks that a retried 503 whose body never ends does not hold
// the request until its deadline.
func TestRetryTrickledBodyBounded(t *testing.T) {
	release := make(chan struct{})
	var requests atomic.Int32
	server := httptest.NewTLSServer(http.HandlerFunc(
		func(writer http.ResponseWriter, request *http.Request) {
			if requests.Add(1) > 1 {
				writer.Header().Set("Content-Type", "application/json")
				_, _ = writer.Write([]byte(`{"kind":"ConfigMap","apiVersion":"v1",` +
					`"metadata":{"name":"cm","namespace":"default"}}`))
				return
			}
			writer.Header().Set("Content-Type", "application/json")
			writer.WriteHeader(http.StatusServiceUnavailable)
			_, _ = writer.Write([]byte(`{"kind":"Status"`))
			http.NewResponseController(writer).Flush()
			select {
			case <-release:
			case <-request.Context().Done():
			}
		}))
	defer server.Close()
	defer close(release)
	harness := newRetryHarness(t, server)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := harness.clientset.CoreV1().ConfigMaps("default").Get(ctx, "cm",
		metav1.GetOptions{})
	elapsed := time.Since(start)
	if err != nil {
		t.Errorf("get after a 503 with an endless body: %v (after %v)", err, elapsed)
	}
	if elapsed > 5*time.Second {
		t.Errorf("get took %v, expected the endless body to be abandoned", elapsed)
	}
}

// TestUnverifiedConnectionSchemelessServer checks the warning for a kubeconfig server
// without a scheme and without a CA, which client-go reaches over plain HTTP.
func TestUnverifiedConnectionSchemelessServer(t *testing.T) {
	notInCluster(t)
	var plainRequests atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(
		func(writer http.ResponseWriter, request *http.Request) {
			plainRequests.Add(1)
			writer.Header().Set("Content-Type", "application/json")
			_, _ = writer.Write([]byte(`{"kind":"ConfigMap","apiVersion":"v1",` +
				`"metadata":{"name":"cm","namespace":"default"}}`))
		}))
	defer server.Close()
	address := strings.TrimPrefix(server.URL, "http://")
	path := writeFile(t, t.TempDir(), "kubeconfig", `apiVersion: v1
kind: Config
current-context: lab
clusters:
- name: lab
  cluster: {server: "`+address+`"}
contexts:
- name: lab
  context: {cluster: lab, user: lab}
users:
- name: lab
  user: {token: schemeless-token-value}
`)
	config := Config{ConfigPaths: []string{path}}
	clientset, err := kubernetes.NewForConfig(mustRESTConfig(t, config))
	if err != nil {
		t.Fatal(err)
	}

	_, err = clientset.CoreV1().ConfigMaps("default").Get(context.Background(), "cm",
		metav1.GetOptions{})
	if err != nil || plainRequests.Load() == 0 {
		t.Fatalf("get over plain HTTP = %v after %d requests, expected it to reach the "+
			"server", err, plainRequests.Load())
	}
	reason := config.UnverifiedConnection()
	if !strings.Contains(reason, "plain HTTP") {
		t.Errorf("UnverifiedConnection() = %q, expected it to report plain HTTP", reason)
	}
}

// TestRedirectToOtherHostOmitsToken checks that a redirect from the API server to another
// host does not carry the bearer token there.
func TestRedirectToOtherHostOmitsToken(t *testing.T) {
	var leaked atomic.Value
	leaked.Store("")
	other := httptest.NewTLSServer(http.HandlerFunc(
		func(writer http.ResponseWriter, request *http.Request) {
			leaked.Store(request.Header.Get("Authorization"))
			writer.Header().Set("Content-Type", "application/json")
			_, _ = writer.Write([]byte(`{"kind":"ConfigMap","apiVersion":"v1",` +
				`"metadata":{"name":"cm","namespace":"default"}}`))
		}))
	defer other.Close()
	// localhost reaches the same interface as 127.0.0.1, but http.Client treats it as
	// another host.
	target := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	server := httptest.NewTLSServer(http.HandlerFunc(
		func(writer http.ResponseWriter, request *http.Request) {
			http.Redirect(writer, request, target+request.URL.Path, http.StatusTemporaryRedirect)
		}))
	defer server.Close()
	harness := newRetryHarness(t, server)

	_, err := harness.clientset.CoreV1().ConfigMaps("default").Get(context.Background(), "cm",
		metav1.GetOptions{})
	t.Logf("get: %v", err)
	if got := leaked.Load().(string); strings.Contains(got, secretToken) {
		t.Errorf("the redirect target received the bearer token")
	}
}

// TestRetryUnretriedStatusNotRetriedByClientGo checks that a 5xx status that the transport
// does not retry, sent with Retry-After, does not start client-go's own round of retries,
// whose waits the transport's budget does not count.
func TestRetryUnretriedStatusNotRetriedByClientGo(t *testing.T) {
	steps := make([]step, 20)
	for i := range steps {
		steps[i] = respond(http.StatusNotImplemented, "1")
	}
	server := newScriptedServer(t, steps...)
	harness := newRetryHarness(t, server.server)

	if err := harness.create(context.Background()); err == nil {
		t.Fatal("create succeeded, expected the 501")
	}
	if got := server.requests.Load(); got != 1 {
		t.Errorf("server received %d requests, expected 1", got)
	}
}

func TestUnverifiedConnectionCases(t *testing.T) {
	notInCluster(t)
	pki := newTestPKI(t)
	path := writeFile(t, t.TempDir(), "kubeconfig", primaryKubeconfig(pki))
	cases := []struct {
		name     string
		config   Config
		expected string
	}{
		// beta-bob in the same file skips verification, but the current context does not.
		{"insecure context not current", Config{ConfigPaths: []string{path}}, ""},
		{"insecure context selected", Config{ConfigPaths: []string{path},
			ConfigContext: "beta-bob"}, "insecure-skip-tls-verify"},
		{"HTTP proxy to an HTTPS server", Config{ConfigPaths: []string{path},
			ProxyURL: "http://127.0.0.1:3128"}, ""},
		{"upper-case HTTP scheme", Config{Host: "HTTP://127.0.0.1:1"}, "plain HTTP"},
		{"scheme-less host", Config{Host: "127.0.0.1:1"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if problems := tc.config.Check(); len(problems) > 0 {
				t.Fatalf("Check() = %v", problems)
			}
			reason := tc.config.UnverifiedConnection()
			if tc.expected == "" && reason != "" {
				t.Errorf("UnverifiedConnection() = %q, expected none", reason)
			}
			if !strings.Contains(reason, tc.expected) {
				t.Errorf("UnverifiedConnection() = %q, expected it to contain %q", reason,
					tc.expected)
			}
		})
	}
}

func TestRetryDelayForRetryAfterForms(t *testing.T) {
	cases := []struct {
		value    string
		min, max time.Duration
	}{
		{"-5", retryBaseDelay / 2, retryBaseDelay},
		{"soon", retryBaseDelay / 2, retryBaseDelay},
		{"1.5", retryBaseDelay / 2, retryBaseDelay},
		{time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat), 0, 0},
		{time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), retryMaxRetryAfter,
			retryMaxRetryAfter},
		{"0", 0, 0},
	}
	transport := newRetryingTransport(nil, nil)
	for _, tc := range cases {
		response := &http.Response{Header: http.Header{"Retry-After": []string{tc.value}}}
		delay := transport.delay(1, response)
		if delay < tc.min || delay > tc.max {
			t.Errorf("delay for Retry-After %q = %v, expected %v to %v", tc.value, delay,
				tc.min, tc.max)
		}
	}
}

func TestRetryAfterBeyondDeadlineGivesUp(t *testing.T) {
	server := newScriptedServer(t, respond(429, "10"), respond(429, "10"))
	harness := newRetryHarness(t, server.server)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()

	if err := harness.create(ctx); err == nil {
		t.Fatal("create succeeded, expected the 429")
	}
	if got := server.requests.Load(); got != 1 {
		t.Errorf("server received %d requests, expected 1", got)
	}
	if len(harness.waits) != 0 {
		t.Errorf("waited %v, expected no wait past the deadline", harness.waits)
	}
}
