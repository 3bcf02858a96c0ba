package kube

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
)

func TestRESTConfigRequestTimeout(t *testing.T) {
	restConfig := mustRESTConfig(t, Config{Host: "https://127.0.0.1:16443", Insecure: true})
	if restConfig.Timeout != RequestTimeout {
		t.Errorf("Timeout = %v, want %v", restConfig.Timeout, RequestTimeout)
	}
}

// silentServer starts a TLS server on loopback that completes the handshake and then never
// responds, or with partialBody, sends headers and part of a body and then stalls.
func silentServer(t *testing.T, partialBody bool) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	server := httptest.NewUnstartedServer(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			if partialBody {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"kind":"NodeList","apiVersion":"v1","items":[`))
				w.(http.Flusher).Flush()
			}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
	server.StartTLS()
	t.Cleanup(func() {
		close(release)
		server.Close()
	})
	return server
}

// clientsetWithTimeout builds a clientset from clients with a short request timeout, so that
// tests need not wait for RequestTimeout.
func clientsetWithTimeout(
	t *testing.T, clients *Clients, timeout time.Duration,
) kubernetes.Interface {
	t.Helper()
	restConfig, err := clients.REST()
	if err != nil {
		t.Fatalf("REST() error: %v", err)
	}
	restConfig.Timeout = timeout
	clientset, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		t.Fatalf("NewForConfig: %v", err)
	}
	return clientset
}

func TestRequestTimeoutNamesServer(t *testing.T) {
	server := silentServer(t, false)
	clients := NewClients(Config{Host: server.URL, Token: secretToken, Insecure: true}, "test")
	clientset := clientsetWithTimeout(t, clients, 2*time.Second)

	start := time.Now()
	_, err := clientset.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err == nil {
		t.Fatal("listing nodes on a silent server succeeded")
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("the request took %v, want it cut off after the timeout", elapsed)
	}

	// net/http keeps only the text of an error when its own timeout fires.
	requireContains(t, err.Error(), server.URL, "no response within", "Check that host is",
		"running and reachable")
	if !utilnet.IsTimeout(err) {
		t.Errorf("client-go does not see the error as a timeout: %v", err)
	}
	if strings.Contains(err.Error(), secretToken) {
		t.Errorf("error contains the token")
	}
}

func TestRequestTimeoutNamesKubeconfigCluster(t *testing.T) {
	server := silentServer(t, false)
	path := writeFile(t, t.TempDir(), "config", kubeconfigWithCluster(server.URL, ""))
	clients := NewClients(Config{ConfigPaths: []string{path}}, "test")
	clientset := clientsetWithTimeout(t, clients, 2*time.Second)

	_, err := clientset.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err == nil {
		t.Fatal("listing nodes on a silent server succeeded")
	}
	requireContains(t, err.Error(), server.URL, `the server of cluster "c" in kubeconfig file `+path)
}

func TestStalledResponseBodyNamesServer(t *testing.T) {
	server := silentServer(t, true)
	clients := NewClients(Config{Host: server.URL, Insecure: true}, "test")
	// The timeout must end the request in the stalled body, after the TLS handshake and the
	// headers, which take far longer than usual on a busy machine.
	clientset := clientsetWithTimeout(t, clients, 2*time.Second)

	_, err := clientset.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err == nil {
		t.Fatal("listing nodes with a stalled body succeeded")
	}
	requireContains(t, err.Error(), server.URL, "still incomplete")
}

func TestConnectionRefusedNamesServer(t *testing.T) {
	address := closedLoopbackAddress(t)
	clients := NewClients(Config{Host: "https://" + address, Insecure: true}, "test")
	clientset, err := clients.Kubernetes()
	if err != nil {
		t.Fatalf("Kubernetes() error: %v", err)
	}

	_, err = clientset.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	requireContains(t, err.Error(), "https://"+address, "nothing accepts connections",
		"connection refused", "Check that host is")
	if !utilnet.IsConnectionRefused(err) {
		t.Errorf("client-go does not see connection refused in %v", err)
	}
}

func TestUnknownAuthorityAdvice(t *testing.T) {
	server := httptest.NewUnstartedServer(http.NotFoundHandler())
	// The failed handshakes are expected, so the server need not log them.
	server.Config.ErrorLog = log.New(io.Discard, "", 0)
	server.StartTLS()
	defer server.Close()
	clients := NewClients(Config{Host: server.URL, Token: secretToken}, "test")
	clientset, err := clients.Kubernetes()
	if err != nil {
		t.Fatalf("Kubernetes() error: %v", err)
	}

	_, err = clientset.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	requireContains(t, err.Error(), server.URL, "not signed by a trusted CA",
		"cluster_ca_certificate")
}

// roundTripperFunc returns a fixed result, to feed errors into diagnosingTransport.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(request *http.Request) (*http.Response, error) {
	return f(request)
}

func TestDiagnosingTransportErrors(t *testing.T) {
	proxyErr := &net.OpError{Op: "proxyconnect", Net: "tcp", Err: errors.New("refused")}
	cases := []struct {
		name    string
		err     error
		problem string // "" means the error must pass through unchanged
	}{
		{"invalid header", errors.New(`net/http: invalid header field value for "Authorization"`),
			"request header built from the credentials is invalid"},
		{"proxy", proxyErr, "the proxy cannot be reached"},
		{"DNS", &net.DNSError{Err: "no such host", Name: "api.invalid", IsNotFound: true},
			`the host name "api.invalid" cannot be resolved`},
		{"EOF", io.EOF, ""},
		{"reset", errors.New("read tcp: connection reset by peer"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			transport := &diagnosingTransport{
				next:   roundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, tc.err }),
				server: "https://127.0.0.1:6443", source: "host",
			}
			request, err := http.NewRequest(http.MethodGet, "https://127.0.0.1:6443/api", nil)
			if err != nil {
				t.Fatal(err)
			}

			_, err = transport.RoundTrip(request)
			if tc.problem == "" {
				if err != tc.err {
					t.Errorf("error = %v, want %v unchanged", err, tc.err)
				}
				return
			}
			var connectionErr *ConnectionError
			if !errors.As(err, &connectionErr) {
				t.Fatalf("error %v is not a *ConnectionError", err)
			}
			requireContains(t, connectionErr.Problem, tc.problem)
			if !errors.Is(err, tc.err) {
				t.Errorf("the transport's error is not wrapped")
			}
		})
	}
}

func TestDiagnosingTransportLeavesCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	transport := &diagnosingTransport{
		next: roundTripperFunc(func(*http.Request) (*http.Response, error) {
			return nil, context.Canceled
		}),
		server: "https://127.0.0.1:6443", source: "host",
	}
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://127.0.0.1:6443", nil)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := transport.RoundTrip(request); err != context.Canceled {
		t.Errorf("error = %v, want context.Canceled unchanged", err)
	}
}

func TestDiagnosingTransportCanceledAtDeadline(t *testing.T) {
	// http.Client can cancel a request that exceeds its timeout through Request.Cancel just
	// before the context reports the deadline, so the transport fails with "request canceled".
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	canceled := errors.New("net/http: request canceled")
	transport := &diagnosingTransport{
		next:   roundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, canceled }),
		server: "https://127.0.0.1:6443", source: "host",
	}
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://127.0.0.1:6443", nil)
	if err != nil {
		t.Fatal(err)
	}

	_, err = transport.RoundTrip(request)
	var connectionErr *ConnectionError
	if !errors.As(err, &connectionErr) {
		t.Fatalf("error %v is not a *ConnectionError", err)
	}
	requireContains(t, connectionErr.Problem, "no response within")
	if !connectionErr.Timeout() {
		t.Errorf("Timeout() = false for a request whose deadline passed")
	}
}
