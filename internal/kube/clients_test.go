package kube

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// closedLoopbackAddress returns a loopback address on which nothing listens any more.
func closedLoopbackAddress(t *testing.T) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening on loopback: %v", err)
	}
	address := listener.Addr().String()
	if err := listener.Close(); err != nil {
		t.Fatal(err)
	}
	return address
}

func TestNewClientsClosedPortFailsOnFirstUse(t *testing.T) {
	clients := NewClients(Config{
		Host:     "https://" + closedLoopbackAddress(t),
		Token:    secretToken,
		Insecure: true,
	}, "terraform-provider-imagedist/test")

	restConfig, err := clients.REST()
	if err != nil {
		t.Fatalf("REST() error: %v", err)
	}
	if restConfig.UserAgent != "terraform-provider-imagedist/test" {
		t.Errorf("UserAgent = %q", restConfig.UserAgent)
	}
	clientset, err := clients.Kubernetes()
	if err != nil {
		t.Fatalf("Kubernetes() error: %v", err)
	}
	if _, err := clients.Dynamic(); err != nil {
		t.Fatalf("Dynamic() error: %v", err)
	}
	if _, err := clients.Discovery(); err != nil {
		t.Fatalf("Discovery() error: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = clientset.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err == nil {
		t.Fatal("listing namespaces on a closed port succeeded")
	}
	requireContains(t, err.Error(), "connection refused")
	if strings.Contains(err.Error(), secretToken) {
		t.Errorf("request error contains the token")
	}
}

func TestNewClientsConnectOnlyOnRequest(t *testing.T) {
	var requests atomic.Int32
	var userAgent atomic.Value
	var connections atomic.Int32
	server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		userAgent.Store(r.UserAgent())
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"NamespaceList","apiVersion":"v1","metadata":{},"items":[]}`))
	}))
	server.Config.ConnState = func(net.Conn, http.ConnState) { connections.Add(1) }
	server.StartTLS()
	defer server.Close()

	clients := NewClients(Config{Host: server.URL, Token: secretToken, Insecure: true}, "imagedist-test")
	clientset, err := clients.Kubernetes()
	if err != nil {
		t.Fatalf("Kubernetes() error: %v", err)
	}
	dynamicClient, err := clients.Dynamic()
	if err != nil {
		t.Fatalf("Dynamic() error: %v", err)
	}
	if _, err := clients.Discovery(); err != nil {
		t.Fatalf("Discovery() error: %v", err)
	}
	if connections.Load() != 0 || requests.Load() != 0 {
		t.Fatalf("building clients made %d connections and %d requests, want none",
			connections.Load(), requests.Load())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := clientset.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("listing namespaces: %v", err)
	}
	if requests.Load() != 1 {
		t.Errorf("requests after first use = %d, want 1", requests.Load())
	}
	if got, _ := userAgent.Load().(string); got != "imagedist-test" {
		t.Errorf("User-Agent header = %q, want imagedist-test", got)
	}

	namespaces := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	if _, err := dynamicClient.Resource(namespaces).List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("listing namespaces with the dynamic client: %v", err)
	}
	if requests.Load() != 2 {
		t.Errorf("requests after dynamic use = %d, want 2", requests.Load())
	}
}

func TestClientsCacheAndConcurrency(t *testing.T) {
	clients := NewClients(Config{Host: "https://" + closedLoopbackAddress(t), Insecure: true}, "")

	first, err := clients.Kubernetes()
	if err != nil {
		t.Fatalf("Kubernetes() error: %v", err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clientset, err := clients.Kubernetes()
			if err != nil {
				errs <- err
				return
			}
			if clientset != first {
				errs <- errors.New("Kubernetes() returned a different clientset")
			}
			if _, err := clients.Dynamic(); err != nil {
				errs <- err
			}
			if _, err := clients.Discovery(); err != nil {
				errs <- err
			}
			if _, err := clients.REST(); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	copy1, _ := clients.REST()
	copy1.Host = "https://changed.invalid"
	copy2, _ := clients.REST()
	if copy2.Host == copy1.Host {
		t.Errorf("REST() returned a shared configuration that callers can change")
	}
}

func TestClientsRetryAfterSettingError(t *testing.T) {
	pki := newTestPKI(t)
	path := filepath.Join(t.TempDir(), "config")
	clients := NewClients(Config{ConfigPaths: []string{path}}, "")

	_, err := clients.Kubernetes()
	var settingErrors SettingErrors
	if !errors.As(err, &settingErrors) {
		t.Fatalf("Kubernetes() error %v is not SettingErrors", err)
	}
	if settingErrors[0].Attribute != AttributeConfigPath {
		t.Errorf("problem attribute = %q, want config_path", settingErrors[0].Attribute)
	}

	// The file appears later, as when another resource writes it during apply.
	writeFile(t, filepath.Dir(path), "config", primaryKubeconfig(pki))
	if _, err := clients.Kubernetes(); err != nil {
		t.Fatalf("Kubernetes() after the kubeconfig appeared: %v", err)
	}
}

func TestNewDeferredClientsNameUnknownAttributes(t *testing.T) {
	clients := NewDeferredClients([]string{"host", "cluster_ca_certificate"})

	calls := map[string]func() error{
		"REST":       func() error { _, err := clients.REST(); return err },
		"Kubernetes": func() error { _, err := clients.Kubernetes(); return err },
		"Dynamic":    func() error { _, err := clients.Dynamic(); return err },
		"Discovery":  func() error { _, err := clients.Discovery(); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			var unknown *UnknownSettingsError
			if !errors.As(err, &unknown) {
				t.Fatalf("error %v is not *UnknownSettingsError", err)
			}
			if len(unknown.Attributes) != 2 {
				t.Errorf("Attributes = %v, want host and cluster_ca_certificate", unknown.Attributes)
			}
			requireContains(t, err.Error(), "host", "cluster_ca_certificate", "apply",
				"needs a connection to the cluster")
		})
	}
}

func TestNewDeferredClientsWithoutNames(t *testing.T) {
	_, err := NewDeferredClients(nil).Kubernetes()
	var unknown *UnknownSettingsError
	if !errors.As(err, &unknown) {
		t.Fatalf("error %v is not *UnknownSettingsError", err)
	}
	requireContains(t, err.Error(), "some provider attributes")
}
