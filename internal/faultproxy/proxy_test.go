package faultproxy

import (
	"context"
	"net/http"
	"os"
	"regexp"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

func TestStartRejectsRemoteTarget(t *testing.T) {
	for _, host := range []string{"https://10.0.0.1:6443", "https://example.com", "::"} {
		if proxy, err := Start(&rest.Config{Host: host}); err == nil {
			proxy.Close()
			t.Errorf("Start(%q) succeeded, expected an error", host)
		}
	}
}

// TestAccProxyFaults checks each fault against a real API server.
func TestAccProxyFaults(t *testing.T) {
	if os.Getenv(testcluster.EnvAcceptance) == "" {
		t.Skip("acceptance test: set TF_ACC=1 to run it against a local control plane")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cluster, err := testcluster.Start(ctx, testcluster.Options{
		WithoutControllerManager: true, SkipCRDs: true, Logf: t.Logf,
	})
	if err != nil {
		t.Fatalf("starting the control plane: %v", err)
	}
	t.Cleanup(cluster.Stop)

	proxy, err := Start(cluster.RESTConfig())
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(proxy.Close)
	config := proxy.RESTConfig()
	client := kubernetes.NewForConfigOrDie(config)
	admin, err := cluster.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	configMaps := regexp.MustCompile(`/configmaps`)

	t.Run("retry after", func(t *testing.T) {
		proxy.Reset()
		proxy.Add(&Rule{Name: "throttle", Method: http.MethodGet, Path: configMaps, Times: 1,
			Fault: Status(http.StatusTooManyRequests, time.Second)})
		// client-go retries a 429 that carries Retry-After by itself.
		if _, err := client.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{}); err != nil {
			t.Fatalf("List through a throttled proxy: %v", err)
		}
		if got := proxy.Injected()["throttle"]; got != 1 {
			t.Errorf("throttle injected %d times, expected 1", got)
		}
		requests := proxy.Requests()
		if len(requests) != 2 || requests[0].Status != http.StatusTooManyRequests ||
			requests[1].Status != http.StatusOK {
			t.Errorf("requests = %+v, expected a 429 and then a 200", requests)
		}
	})

	t.Run("status", func(t *testing.T) {
		proxy.Reset()
		proxy.Add(&Rule{Name: "unavailable", Method: http.MethodPost, Path: configMaps,
			Fault: Status(http.StatusServiceUnavailable, 0)})
		_, err := client.CoreV1().ConfigMaps("default").Create(ctx, configMap("status"),
			metav1.CreateOptions{})
		if !apierrors.IsServiceUnavailable(err) {
			t.Fatalf("Create = %v, expected 503 Service Unavailable", err)
		}
		assertMissing(ctx, t, admin, "status")
	})

	t.Run("drop before", func(t *testing.T) {
		proxy.Reset()
		proxy.Add(&Rule{Name: "drop", Method: http.MethodPost, Path: configMaps, Times: 1,
			Fault: DropBefore()})
		_, err := client.CoreV1().ConfigMaps("default").Create(ctx, configMap("before"),
			metav1.CreateOptions{})
		if err == nil {
			t.Fatal("Create through a dropped connection succeeded")
		}
		assertMissing(ctx, t, admin, "before")
		if requests := proxy.Requests(); len(requests) != 1 || requests[0].Status != 0 {
			t.Errorf("requests = %+v, expected one without a status", requests)
		}
	})

	t.Run("drop after", func(t *testing.T) {
		proxy.Reset()
		proxy.Add(&Rule{Name: "drop", Method: http.MethodPost, Path: configMaps, Times: 1,
			Fault: DropAfter()})
		_, err := client.CoreV1().ConfigMaps("default").Create(ctx, configMap("after"),
			metav1.CreateOptions{})
		if err == nil {
			t.Fatal("Create through a dropped connection succeeded")
		}
		if _, err := admin.CoreV1().ConfigMaps("default").Get(ctx, "after",
			metav1.GetOptions{}); err != nil {
			t.Errorf("the server did not create the ConfigMap: %v", err)
		}
	})

	t.Run("delay", func(t *testing.T) {
		proxy.Reset()
		proxy.Add(&Rule{Name: "slow", Path: configMaps, Times: 1, Fault: Delay(time.Minute)})
		short, stop := context.WithTimeout(ctx, 300*time.Millisecond)
		defer stop()
		_, err := client.CoreV1().ConfigMaps("default").List(short, metav1.ListOptions{})
		if err == nil {
			t.Fatal("List through a delay longer than the deadline succeeded")
		}
	})

	t.Run("concurrent writer", func(t *testing.T) {
		proxy.Reset()
		created, err := admin.CoreV1().ConfigMaps("default").Create(ctx, configMap("race"),
			metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		proxy.Add(&Rule{Name: "writer", Method: http.MethodPut, Path: configMaps, Times: 1,
			Fault: Before("concurrent writer", func(ctx context.Context) error {
				latest, err := admin.CoreV1().ConfigMaps("default").Get(ctx, "race",
					metav1.GetOptions{})
				if err != nil {
					return err
				}
				latest.Data = map[string]string{"writer": "kept"}
				_, err = admin.CoreV1().ConfigMaps("default").Update(ctx, latest,
					metav1.UpdateOptions{})
				return err
			})})
		created.Data = map[string]string{"client": "lost"}
		_, err = client.CoreV1().ConfigMaps("default").Update(ctx, created, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			t.Fatalf("Update = %v, expected 409 Conflict", err)
		}
	})

	t.Run("kubeconfig", func(t *testing.T) {
		proxy.Reset()
		path := t.TempDir() + "/kubeconfig"
		if err := proxy.WriteKubeconfig(path); err != nil {
			t.Fatal(err)
		}
		loaded, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kubernetes.NewForConfigOrDie(loaded).CoreV1().Namespaces().Get(ctx,
			"default", metav1.GetOptions{}); err != nil {
			t.Errorf("Get through the written kubeconfig: %v", err)
		}
		if got := len(proxy.Requests()); got != 1 {
			t.Errorf("recorded %d requests, expected 1", got)
		}
	})
}

func configMap(name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
}

func assertMissing(ctx context.Context, t *testing.T, client kubernetes.Interface, name string) {
	t.Helper()
	_, err := client.CoreV1().ConfigMaps("default").Get(ctx, name, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap %s: Get = %v, expected Not Found", name, err)
	}
}
