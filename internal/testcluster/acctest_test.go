package testcluster

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
)

// runnerFunc adapts a function to the runner interface of runTests.
type runnerFunc func() int

func (f runnerFunc) Run() int { return f() }

func TestRunTestsWithoutAcceptance(t *testing.T) {
	t.Setenv(EnvAcceptance, "")
	t.Setenv(EnvKubeconfig, "")

	ran := false
	code := runTests(runnerFunc(func() int {
		ran = true
		if Shared() != nil {
			t.Errorf("Shared() is set although TF_ACC is unset")
		}
		return 5
	}), Options{Logf: t.Logf})

	if !ran {
		t.Errorf("the tests did not run")
	}
	if code != 5 {
		t.Errorf("exit code = %d, expected the tests' code 5", code)
	}
}

func TestRunTestsWithCallerKubeconfig(t *testing.T) {
	t.Setenv(EnvAcceptance, "1")
	t.Setenv(EnvKubeconfig, "/nonexistent/kubeconfig")

	code := runTests(runnerFunc(func() int {
		if Shared() != nil {
			t.Errorf("Shared() is set although KUBE_CONFIG_PATH names a cluster")
		}
		if path := os.Getenv(EnvKubeconfig); path != "/nonexistent/kubeconfig" {
			t.Errorf("KUBE_CONFIG_PATH = %q, expected the caller's value", path)
		}
		return 0
	}), Options{Logf: t.Logf})
	if code != 0 {
		t.Errorf("exit code = %d, expected 0", code)
	}
}

func TestAccRunTestsSeedsCluster(t *testing.T) {
	requireAcceptance(t)
	t.Setenv(EnvKubeconfig, "")
	t.Setenv(EnvKubeContext, "")

	var pids []int
	var dir string
	code := runTests(runnerFunc(func() int {
		cluster := Shared()
		if cluster == nil {
			t.Error("Shared() is nil while the tests run")
			return 1
		}
		pids, dir = cluster.PIDs(), cluster.Dir

		if path := os.Getenv(EnvKubeconfig); path != cluster.KubeconfigPath {
			t.Errorf("KUBE_CONFIG_PATH = %q, expected %q", path, cluster.KubeconfigPath)
		}
		if context := os.Getenv(EnvKubeContext); context != ContextName {
			t.Errorf("KUBE_CTX = %q, expected %q", context, ContextName)
		}
		checkSeededObjects(t)
		return 7
	}), Options{Logf: t.Logf})

	if code != 7 {
		t.Errorf("exit code = %d, expected the tests' code 7", code)
	}
	if Shared() != nil {
		t.Errorf("Shared() is still set after the tests")
	}
	if path := os.Getenv(EnvKubeconfig); path != "" {
		t.Errorf("KUBE_CONFIG_PATH = %q after the tests, expected it restored", path)
	}
	if len(pids) != 3 {
		t.Errorf("PIDs() = %v while the tests ran, expected 3 programs", pids)
	}
	checkNoProcessLeft(t, dir, pids)
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary cluster directory %s still exists: %v", dir, err)
	}
}

// checkSeededObjects checks what SeedDemo creates, through the clients that tests use.
func checkSeededObjects(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	client, err := ClientFromEnv()
	if err != nil {
		t.Fatalf("ClientFromEnv: %v", err)
	}

	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("listing nodes: %v", err)
	}
	if len(nodes.Items) != len(DemoNodes()) {
		t.Errorf("found %d nodes, expected %d", len(nodes.Items), len(DemoNodes()))
	}

	secret, err := client.CoreV1().Secrets(NamespaceOpenShiftConfig).
		Get(ctx, GlobalPullSecretName, metav1.GetOptions{})
	if err != nil {
		t.Errorf("reading the global pull secret: %v", err)
	} else if !bytes.Contains(secret.Data[".dockerconfigjson"], []byte(`"registry.redhat.io"`)) {
		t.Errorf("the global pull secret has no registry.redhat.io entry")
	}

	account, err := client.CoreV1().ServiceAccounts(DemoNamespace).
		Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		t.Errorf("reading the demo ServiceAccount: %v", err)
	} else if len(account.ImagePullSecrets) != 1 ||
		!strings.HasPrefix(account.ImagePullSecrets[0].Name, "default-dockercfg-") {
		t.Errorf("demo ServiceAccount imagePullSecrets = %v, expected a default-dockercfg-* "+
			"entry", account.ImagePullSecrets)
	}

	dynamicClient, err := DynamicClientFromEnv()
	if err != nil {
		t.Fatalf("DynamicClientFromEnv: %v", err)
	}
	pool, err := dynamicClient.Resource(machineConfigPoolResource).
		Get(ctx, "worker", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading the worker pool: %v", err)
	}
	if count, _, _ := unstructuredInt(pool.Object, "status", "machineCount"); count != 4 {
		t.Errorf("worker pool machineCount = %d, expected 4", count)
	}
	image, err := dynamicClient.Resource(imageConfigResource).Get(ctx, "cluster",
		metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading the cluster image configuration: %v", err)
	}
	if spec, _ := image.Object["spec"].(map[string]any); len(spec) != 0 {
		t.Errorf("cluster image configuration spec = %v, expected it empty", spec)
	}
}

func unstructuredInt(object map[string]any, path ...string) (int64, bool, error) {
	value := any(object)
	for _, key := range path {
		fields, ok := value.(map[string]any)
		if !ok {
			return 0, false, nil
		}
		value = fields[key]
	}
	number, ok := value.(int64)
	return number, ok, nil
}

func TestAccDevclusterUpDown(t *testing.T) {
	requireAcceptance(t)
	binary := filepath.Join(t.TempDir(), "devcluster")
	build := exec.Command("go", "build", "-o", binary, "./cmd/devcluster")
	if output, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building devcluster: %v\n%s", err, output)
	}
	dir := filepath.Join(t.TempDir(), "devcluster")
	devcluster := func(args ...string) (string, int) {
		t.Helper()
		command := exec.Command(binary, append([]string{"-dir", dir}, args...)...)
		var stderr bytes.Buffer
		command.Stderr = &stderr
		output, err := command.Output()
		code := 0
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code = exitErr.ExitCode()
		} else if err != nil {
			t.Fatalf("running devcluster %s: %v", strings.Join(args, " "), err)
		}
		t.Logf("devcluster %s: exit %d\n%s%s", strings.Join(args, " "), code, output, &stderr)
		return strings.TrimSpace(string(output)), code
	}
	t.Cleanup(func() { devcluster("down") })

	kubeconfig := filepath.Join(dir, KubeconfigFile)
	if output, code := devcluster("up"); code != 0 || output != kubeconfig {
		t.Fatalf("up: exit %d, output %q, expected exit 0 and %s", code, output, kubeconfig)
	}
	if output, code := devcluster("up"); code != 0 || output != kubeconfig {
		t.Errorf("second up: exit %d, output %q, expected exit 0 and %s", code, output,
			kubeconfig)
	}
	if output, code := devcluster("status"); code != 0 || !strings.Contains(output, "running") {
		t.Errorf("status: exit %d, output %q, expected exit 0 and running", code, output)
	}

	t.Setenv(EnvKubeconfig, kubeconfig)
	t.Setenv(EnvKubeContext, ContextName)
	client, err := ClientFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.CoreV1().Nodes().Get(t.Context(), "worker-0", metav1.GetOptions{})
	if err != nil {
		t.Errorf("reading a demo node: %v", err)
	}
	dynamicClient, err := DynamicClientFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	checkOperatorAccepts(t, dynamicClient)

	if _, code := devcluster("down"); code != 0 {
		t.Errorf("down: exit %d, expected 0", code)
	}
	if output, code := devcluster("status"); code != 3 || !strings.Contains(output, "not running") {
		t.Errorf("status after down: exit %d, output %q, expected exit 3 and not running",
			code, output)
	}
	if _, code := devcluster("down"); code != 0 {
		t.Errorf("second down: exit %d, expected 0", code)
	}
	checkNoProcessLeft(t, dir, nil)
}

// checkOperatorAccepts creates a KubeletConfig for the worker pool and waits for the
// devcluster's machine-config operator to accept it and roll the pool out, twice: the second
// time after deleting it and creating it again under the same name.
func checkOperatorAccepts(t *testing.T, client dynamic.Interface) {
	t.Helper()
	ctx := t.Context()
	configs := client.Resource(kubeletConfigResource)
	for round := 1; round <= 2; round++ {
		pool, err := client.Resource(machineConfigPoolResource).Get(ctx, "worker",
			metav1.GetOptions{})
		if err != nil {
			t.Fatalf("round %d: reading the worker pool: %v", round, err)
		}
		rendered, _, _ := unstructured.NestedString(pool.Object, "status", "configuration",
			"name")

		config := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "machineconfiguration.openshift.io/v1",
			"kind":       "KubeletConfig",
			"metadata":   map[string]any{"name": "operator-check"},
			"spec": map[string]any{
				"machineConfigPoolSelector": map[string]any{"matchLabels": map[string]any{
					"pools.operator.machineconfiguration.openshift.io/worker": "",
				}},
				"kubeletConfig": map[string]any{"imageGCHighThresholdPercent": int64(80)},
			},
		}}
		if _, err := configs.Create(ctx, config, metav1.CreateOptions{}); err != nil {
			t.Fatalf("round %d: creating a KubeletConfig: %v", round, err)
		}

		var conditionType, poolRendered string
		err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true,
			func(ctx context.Context) (bool, error) {
				object, err := configs.Get(ctx, "operator-check", metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				conditions, _, _ := unstructured.NestedSlice(object.Object, "status",
					"conditions")
				if len(conditions) > 0 {
					conditionType, _, _ = unstructured.NestedString(
						conditions[0].(map[string]any), "type")
				}
				pool, err := client.Resource(machineConfigPoolResource).Get(ctx, "worker",
					metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				poolRendered, _, _ = unstructured.NestedString(pool.Object, "status",
					"configuration", "name")
				return conditionType != "" && poolRendered != rendered, nil
			})
		if err != nil {
			t.Fatalf("round %d: waiting for the operator: %v (first condition %q, pool on %q, "+
				"was %q)", round, err, conditionType, poolRendered, rendered)
		}
		if conditionType != "Accepted" {
			t.Errorf("round %d: first condition %q, expected Accepted (OpenShift 4.23 style)",
				round, conditionType)
		}
		if err := configs.Delete(ctx, "operator-check", metav1.DeleteOptions{}); err != nil {
			t.Fatalf("round %d: deleting the KubeletConfig: %v", round, err)
		}
	}
}
