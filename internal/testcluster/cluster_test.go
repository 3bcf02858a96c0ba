package testcluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// expectedCRDs are the CRDs that Start installs from the pinned github.com/openshift/api and
// from this package.
var expectedCRDs = []string{
	"kubeletconfigs.machineconfiguration.openshift.io",
	"machineconfigpools.machineconfiguration.openshift.io",
	"machineconfigs.machineconfiguration.openshift.io",
	"pinnedimagesets.machineconfiguration.openshift.io",
	"machineconfignodes.machineconfiguration.openshift.io",
	"imagedigestmirrorsets.config.openshift.io",
	"imagetagmirrorsets.config.openshift.io",
	"imagecontentsourcepolicies.operator.openshift.io",
	"images.config.openshift.io",
	"kubernetesimagepullers.che.eclipse.org",
}

var kubernetesImagePullerResource = schema.GroupVersionResource{
	Group: "che.eclipse.org", Version: "v1alpha1", Resource: "kubernetesimagepullers",
}

// requireAcceptance skips tests that start a control plane unless TF_ACC is set, because
// they need the etcd and Kubernetes binaries that tools/build.sh builds.
func requireAcceptance(t *testing.T) {
	t.Helper()
	if os.Getenv(EnvAcceptance) == "" {
		t.Skipf("set %s=1 to start a local control plane", EnvAcceptance)
	}
}

// logRecorder passes messages to t.Logf and keeps them for checks.
type logRecorder struct {
	t        *testing.T
	mu       sync.Mutex
	messages []string
}

func (r *logRecorder) logf(format string, args ...any) {
	r.t.Helper()
	r.t.Logf(format, args...)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.messages = append(r.messages, format)
}

func (r *logRecorder) contains(text string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.messages, func(m string) bool { return strings.Contains(m, text) })
}

func startCluster(t *testing.T, options Options) (*Cluster, *logRecorder) {
	t.Helper()
	recorder := &logRecorder{t: t}
	options.Logf = recorder.logf
	if options.Dir == "" {
		options.Dir = t.TempDir()
	}

	began := time.Now()
	cluster, err := Start(t.Context(), options)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(cluster.Stop)
	t.Logf("control plane ready in %s", time.Since(began).Round(time.Millisecond))
	return cluster, recorder
}

func TestAccClusterLifecycle(t *testing.T) {
	requireAcceptance(t)
	cluster, recorder := startCluster(t, Options{})
	ctx := t.Context()

	client := clientFromKubeconfig(t, cluster.KubeconfigPath)
	checkCRDsEstablished(t, cluster)
	checkDemoNodes(t, client)
	checkKubernetesImagePuller(t, cluster)
	checkDaemonSetController(t, client)

	account, err := AddOpenShiftDockercfg(ctx, client, "default", "builder")
	if err != nil {
		t.Fatalf("AddOpenShiftDockercfg: %v", err)
	}
	if len(account.ImagePullSecrets) != 1 ||
		!strings.HasPrefix(account.ImagePullSecrets[0].Name, "builder-dockercfg-") {
		t.Errorf("imagePullSecrets = %v, expected one builder-dockercfg-* entry",
			account.ImagePullSecrets)
	}

	pids := cluster.PIDs()
	if len(pids) != 3 {
		t.Fatalf("PIDs() = %v, expected etcd, kube-apiserver and kube-controller-manager", pids)
	}
	began := time.Now()
	cluster.Stop()
	t.Logf("stopped in %s", time.Since(began).Round(time.Millisecond))
	checkNoProcessLeft(t, cluster.Dir, pids)
	if recorder.contains("was killed") {
		t.Errorf("a program needed SIGKILL; the stop order should let each exit on SIGTERM")
	}

	// A second Stop must return at once without touching anything.
	cluster.Stop()
}

func clientFromKubeconfig(t *testing.T, path string) kubernetes.Interface {
	t.Helper()
	kubeconfig, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatalf("loading the kubeconfig: %v", err)
	}
	if kubeconfig.CurrentContext != ContextName {
		t.Errorf("current context = %q, expected %q", kubeconfig.CurrentContext, ContextName)
	}

	config, err := clientcmd.NewDefaultClientConfig(*kubeconfig, nil).ClientConfig()
	if err != nil {
		t.Fatalf("building a client configuration from the kubeconfig: %v", err)
	}
	config.QPS, config.Burst = 100, 200
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatalf("building a clientset: %v", err)
	}
	return client
}

func checkCRDsEstablished(t *testing.T, cluster *Cluster) {
	t.Helper()
	client, err := cluster.DynamicClient()
	if err != nil {
		t.Fatalf("DynamicClient: %v", err)
	}

	list, err := client.Resource(crdResource).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("listing CRDs: %v", err)
	}
	established := map[string]bool{}
	for i := range list.Items {
		established[list.Items[i].GetName()] = crdEstablished(&list.Items[i])
	}
	for _, name := range expectedCRDs {
		if !established[name] {
			t.Errorf("CRD %s is missing or not Established", name)
		}
	}
	if len(list.Items) != len(expectedCRDs) {
		t.Errorf("found %d CRDs, expected %d", len(list.Items), len(expectedCRDs))
	}
}

func checkDemoNodes(t *testing.T, client kubernetes.Interface) {
	t.Helper()
	ctx := t.Context()
	nodes := DemoNodes()
	if err := SeedNodes(ctx, client, nodes); err != nil {
		t.Fatalf("SeedNodes: %v", err)
	}
	// Seeding twice updates the nodes in place.
	if err := SeedNodes(ctx, client, nodes); err != nil {
		t.Fatalf("SeedNodes again: %v", err)
	}

	for _, node := range nodes {
		stored, err := client.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("reading node %s: %v", node.Name, err)
			continue
		}
		expected := node.Object()

		if !equalImages(stored.Status.Images, expected.Status.Images) {
			t.Errorf("node %s: status.images differ from what was seeded", node.Name)
		}
		if stored.Status.NodeInfo != expected.Status.NodeInfo {
			t.Errorf("node %s: nodeInfo = %+v, expected %+v", node.Name,
				stored.Status.NodeInfo, expected.Status.NodeInfo)
		}
		if !nodeReady(stored) {
			t.Errorf("node %s is not Ready", node.Name)
		}
		if len(stored.Spec.Taints) != len(node.Taints) {
			t.Errorf("node %s: taints = %v, expected %v", node.Name, stored.Spec.Taints,
				node.Taints)
		}
		for key, value := range node.Labels {
			if stored.Labels[key] != value {
				t.Errorf("node %s: label %s = %q, expected %q", node.Name, key,
					stored.Labels[key], value)
			}
		}
	}
}

func equalImages(a, b []corev1.ContainerImage) bool {
	return slices.EqualFunc(a, b, func(x, y corev1.ContainerImage) bool {
		return x.SizeBytes == y.SizeBytes && slices.Equal(x.Names, y.Names)
	})
}

func nodeReady(node *corev1.Node) bool {
	for _, condition := range node.Status.Conditions {
		if condition.Type == corev1.NodeReady {
			return condition.Status == corev1.ConditionTrue
		}
	}
	return false
}

func checkKubernetesImagePuller(t *testing.T, cluster *Cluster) {
	t.Helper()
	ctx := t.Context()
	client, err := cluster.DynamicClient()
	if err != nil {
		t.Fatalf("DynamicClient: %v", err)
	}
	pullers := client.Resource(kubernetesImagePullerResource).Namespace("default")

	puller := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "che.eclipse.org/v1alpha1",
		"kind":       "KubernetesImagePuller",
		"metadata":   map[string]any{"name": "cache"},
		"spec": map[string]any{
			"images":               "nginx=docker.io/library/nginx:1.27;ubi=registry.access.redhat.com/ubi9/ubi:9.6",
			"cachingIntervalHours": "1",
			"nodeSelector":         `{"node-role.kubernetes.io/worker":""}`,
		},
	}}
	created, err := pullers.Create(ctx, puller, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating a KubernetesImagePuller: %v", err)
	}

	// The status subresource accepts what the operator writes.
	created.Object["status"] = map[string]any{
		"imagePullerImage": "quay.io/eclipse/kubernetes-image-puller:next",
		"conditions": []any{map[string]any{
			"type": "Ready", "status": "True", "reason": "AllResourcesReady",
			"message": "ready", "lastTransitionTime": "2026-01-02T03:04:05Z",
		}},
	}
	if _, err := pullers.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Errorf("updating the KubernetesImagePuller status: %v", err)
	}

	// Every spec field is a string, so a number is rejected.
	invalid := puller.DeepCopy()
	invalid.SetName("invalid")
	invalid.Object["spec"] = map[string]any{"cachingIntervalHours": 1}
	if _, err := pullers.Create(ctx, invalid, metav1.CreateOptions{}); err == nil {
		t.Errorf("creating a KubernetesImagePuller with a numeric cachingIntervalHours " +
			"succeeded, expected a validation error")
	}
}

// checkDaemonSetController shows that kube-controller-manager runs: the DaemonSet controller
// creates one pod per worker, none for the tainted control-plane node.
func checkDaemonSetController(t *testing.T, client kubernetes.Interface) {
	t.Helper()
	ctx := t.Context()
	if err := WaitForServiceAccount(ctx, client, "default", "default"); err != nil {
		t.Fatal(err)
	}

	labels := map[string]string{"app": "probe"}
	daemonSet := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: "default"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{
					{Name: "probe", Image: "registry.k8s.io/pause:3.10"},
				}},
			},
		},
	}
	daemonSets := client.AppsV1().DaemonSets("default")
	if _, err := daemonSets.Create(ctx, daemonSet, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating a DaemonSet: %v", err)
	}

	var scheduled int32
	err := wait.PollUntilContextTimeout(ctx, pollInterval, time.Minute, true,
		func(ctx context.Context) (bool, error) {
			current, err := daemonSets.Get(ctx, "probe", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			scheduled = current.Status.DesiredNumberScheduled
			return scheduled == 4, nil
		})
	if err != nil {
		t.Fatalf("DaemonSet desiredNumberScheduled = %d, expected 4: %v", scheduled, err)
	}

	pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{
		LabelSelector: "app=probe",
	})
	if err != nil {
		t.Fatalf("listing DaemonSet pods: %v", err)
	}
	if len(pods.Items) != 4 {
		t.Errorf("DaemonSet pods = %d, expected 4", len(pods.Items))
	}
}

// checkNoProcessLeft checks that the programs have exited and that no process mentions the
// cluster directory in its command line.
func checkNoProcessLeft(t *testing.T, dir string, pids []int) {
	t.Helper()
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d still exists after Stop (kill 0: %v)", pid, err)
		}
	}

	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("listing /proc: %v", err)
	}
	for _, entry := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", entry.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(string(cmdline), dir) {
			t.Errorf("process %s still runs with the cluster directory: %s", entry.Name(),
				strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
}

func TestAccSeedNodesAtScale(t *testing.T) {
	requireAcceptance(t)
	cluster, _ := startCluster(t, Options{SkipCRDs: true, WithoutControllerManager: true})
	client, err := cluster.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	if pids := cluster.PIDs(); len(pids) != 2 {
		t.Errorf("PIDs() = %v, expected etcd and kube-apiserver only", pids)
	}

	const count = 1000
	nodes := GenerateNodes(count, 80, 1)
	began := time.Now()
	if err := SeedNodes(t.Context(), client, nodes); err != nil {
		t.Fatalf("SeedNodes: %v", err)
	}
	t.Logf("seeded %d nodes in %s", count, time.Since(began).Round(time.Millisecond))

	listed := 0
	options := metav1.ListOptions{Limit: 250}
	for {
		page, err := client.CoreV1().Nodes().List(t.Context(), options)
		if err != nil {
			t.Fatalf("listing nodes: %v", err)
		}
		for i := range page.Items {
			if images := len(page.Items[i].Status.Images); images != DefaultMaxImages {
				t.Errorf("node %s reports %d images, expected %d", page.Items[i].Name, images,
					DefaultMaxImages)
			}
		}
		listed += len(page.Items)
		if page.Continue == "" {
			break
		}
		options.Continue = page.Continue
	}
	if listed != count {
		t.Errorf("listed %d nodes, expected %d", listed, count)
	}

	last := nodes[count-1]
	stored, err := client.CoreV1().Nodes().Get(t.Context(), last.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !equalImages(stored.Status.Images, last.StatusImages()) {
		t.Errorf("node %s: status.images differ from what was seeded", last.Name)
	}

	// The CRDs were skipped, so the OpenShift kinds are not served.
	_, err = client.Discovery().ServerResourcesForGroupVersion("machineconfiguration.openshift.io/v1")
	if err == nil {
		t.Errorf("machineconfiguration.openshift.io/v1 is served although SkipCRDs was set")
	}
}
