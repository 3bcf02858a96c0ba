package clitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/imagedist/terraform-provider-imagedist/internal/faultproxy"
	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

// interruptExtraConfig adds an entry of the global pull secret to the quickstart.
const interruptExtraConfig = `
resource "imagedist_cluster_pull_secret" "mirror" {
  server   = "interrupt-mirror.example.com:5000"
  username = "cluster-puller"
  password = "interrupt-token-5e0a"
}
`

// longInterruptRequests is how many of the apply's first requests the long variant
// interrupts, one per case.
const longInterruptRequests = 40

// interruptGrace is how long the interrupted request waits for the CLI to cancel it, as a
// request in flight when Ctrl-C is pressed does, before it reaches the API server.
const interruptGrace = 3 * time.Second

// TestAccInterruptedApply presses Ctrl-C (SIGINT) while the apply of the quickstart sends a
// chosen request, then checks that the next apply finishes the job. That apply must succeed,
// and a plan after it must be empty. Every service account must list the pull secret once
// beside its own entries, and the global pull secret must have its entry once beside the
// others. Destroy must then remove only what the configuration made.
func TestAccInterruptedApply(t *testing.T) {
	program := requireCLI(t)
	cluster := startDevCluster(t)
	root, err := testcluster.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	quickstart, err := os.ReadFile(filepath.Join(root, "examples", "quickstart", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}

	adminConfig, err := clientcmd.BuildConfigFromFlags("", cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := kubernetes.NewForConfig(adminConfig)
	if err != nil {
		t.Fatal(err)
	}
	dynamicClient, err := dynamic.NewForConfig(adminConfig)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := faultproxy.Start(adminConfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	proxyKubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := proxy.WriteKubeconfig(proxyKubeconfig); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, admin)

	variables := []string{
		"TF_VAR_kubeconfig=" + proxyKubeconfig,
		"TF_VAR_release_registry=" + cluster.RegistryHost + "/imagedist-demo",
		"TF_VAR_registry_username=" + cluster.RegistryUsername,
		"TF_VAR_registry_password=" + cluster.RegistryPassword,
		"TF_VAR_registry_ca_file=" + cluster.RegistryCAFile,
	}

	type interruptCase struct {
		name   string
		method string
		path   string
		skip   int
	}
	cases := []interruptCase{
		{name: "pull secret create", method: "POST",
			path: `^/api/v1/namespaces/imagedist-demo/secrets$`},
		{name: "service account link", method: "PUT",
			path: `^/api/v1/namespaces/imagedist-demo/serviceaccounts/`},
		{name: "global pull secret update", method: "PUT",
			path: `^/api/v1/namespaces/openshift-config/secrets/pull-secret$`},
		{name: "image puller create", method: "POST",
			path: `/namespaces/imagedist-demo/daemonsets$`},
		{name: "image puller wait", method: "GET",
			path: `^/api/v1/namespaces/imagedist-demo/pods$`},
		{name: "mirror set create", method: "POST",
			path: `/imagedigestmirrorsets$`},
		{name: "kubelet config create", method: "POST",
			path: `/kubeletconfigs$`},
		// The plan reads no KubeletConfig by name, so the first such read is the wait
		// for the machine-config operator's verdict.
		{name: "kubelet config wait", method: "GET",
			path: `/kubeletconfigs/imagedist-demo-image-gc$`},
	}
	if os.Getenv(envLongTests) != "" {
		// Each of the apply's first requests in turn, whatever resource sends it.
		for skip := range longInterruptRequests {
			cases = append(cases, interruptCase{name: fmt.Sprintf("request %d", skip+1),
				skip: skip})
		}
	}
	for _, test := range cases {
		for _, held := range []bool{true, false} {
			name := test.name + " before the server"
			if !held {
				name = test.name + " after the server"
			}
			t.Run(name, func(t *testing.T) {
				work := newWorkDir(t, program, map[string]string{
					"main.tf": string(quickstart), "extra.tf": interruptExtraConfig,
				})
				proxy.Reset()
				t.Cleanup(func() { restoreCluster(t, admin, dynamicClient, before) })
				process := work.start(t, variables, "apply", "-auto-approve", "-no-color")
				proxy.Add(&faultproxy.Rule{
					Name: "interrupt", Method: test.method, Path: regexp.MustCompile(test.path),
					Skip: test.skip, Times: 1, Fault: faultproxy.Before("Ctrl-C", func(ctx context.Context) error {
						return process.interrupt(ctx, held)
					}),
				})
				output, code := process.wait(t)
				if proxy.Injected()["interrupt"] != 1 {
					t.Fatalf("the apply never sent %s %s, so it was not interrupted; it exited "+
						"with %d and its output ends:\n%s", test.method, test.path, code,
						lastLines(output, 20))
				}
				if code == 0 {
					t.Errorf("the interrupted apply exited with 0; its output ends:\n%s",
						lastLines(output, 20))
				}

				proxy.Reset()
				output, code = work.run(t, variables, "apply", "-auto-approve", "-no-color")
				if code != 0 {
					t.Fatalf("the apply after the interrupt exited with %d; its output ends:\n%s",
						code, lastLines(output, 30))
				}
				output, code = work.run(t, variables, "plan", "-detailed-exitcode", "-no-color")
				if code != 0 {
					t.Errorf("the plan after the second apply exited with %d, expected 0 (no "+
						"changes); its output ends:\n%s", code, lastLines(output, 30))
				}
				checkApplied(t, admin, before)

				output, code = work.run(t, variables, "destroy", "-auto-approve", "-no-color")
				if code != 0 {
					t.Fatalf("destroy exited with %d; its output ends:\n%s", code,
						lastLines(output, 30))
				}
				checkDestroyed(t, admin, before)
			})
		}
	}
}

// clusterSnapshot is what the cluster held before the first apply.
type clusterSnapshot struct {
	// accountSecrets maps each linked service account to its imagePullSecrets names.
	accountSecrets map[string][]string
	// globalEntries is the set of registries in the global pull secret.
	globalEntries map[string]bool
}

// linkedAccounts are the service accounts that the quickstart links.
var linkedAccounts = []string{"default", "builder"}

func snapshot(t *testing.T, client kubernetes.Interface) clusterSnapshot {
	t.Helper()
	result := clusterSnapshot{accountSecrets: map[string][]string{}}
	for _, name := range linkedAccounts {
		result.accountSecrets[name] = accountPullSecrets(t, client, name)
	}
	result.globalEntries = globalPullSecretEntries(t, client)
	return result
}

func checkApplied(t *testing.T, client kubernetes.Interface, before clusterSnapshot) {
	t.Helper()
	for _, name := range linkedAccounts {
		got := accountPullSecrets(t, client, name)
		expected := append(append([]string(nil), before.accountSecrets[name]...),
			"registry-credentials")
		if strings.Join(got, ",") != strings.Join(expected, ",") {
			t.Errorf("service account %s lists pull secrets %v, expected %v", name, got,
				expected)
		}
	}
	entries := globalPullSecretEntries(t, client)
	for registry := range before.globalEntries {
		if !entries[registry] {
			t.Errorf("the global pull secret lost the entry for %s", registry)
		}
	}
	if !entries["interrupt-mirror.example.com:5000"] {
		t.Error("the global pull secret lacks the configured entry")
	}
	if len(entries) != len(before.globalEntries)+1 {
		t.Errorf("the global pull secret has %d entries, expected %d", len(entries),
			len(before.globalEntries)+1)
	}
}

func checkDestroyed(t *testing.T, client kubernetes.Interface, before clusterSnapshot) {
	t.Helper()
	after := snapshot(t, client)
	for _, name := range linkedAccounts {
		got, expected := after.accountSecrets[name], before.accountSecrets[name]
		if strings.Join(got, ",") != strings.Join(expected, ",") {
			t.Errorf("after destroy, service account %s lists %v, expected %v", name, got,
				expected)
		}
	}
	if len(after.globalEntries) != len(before.globalEntries) {
		t.Errorf("after destroy, the global pull secret has %d entries, expected %d",
			len(after.globalEntries), len(before.globalEntries))
	}
	_, err := client.CoreV1().Secrets(testcluster.DemoNamespace).Get(context.Background(),
		"registry-credentials", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("after destroy, Secret registry-credentials: Get = %v, expected Not Found", err)
	}
	_, err = client.AppsV1().DaemonSets(testcluster.DemoNamespace).Get(context.Background(),
		"release-images", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("after destroy, DaemonSet release-images: Get = %v, expected Not Found", err)
	}
}

// restoreCluster removes what a failed case may have left, so that the next case starts
// from the snapshot: the objects that the configuration names, the links and the entry of
// the global pull secret.
func restoreCluster(t *testing.T, client kubernetes.Interface, dynamicClient dynamic.Interface,
	before clusterSnapshot) {
	ctx := context.Background()
	ignoreMissing := func(err error) {
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("restoring the cluster: %v", err)
		}
	}
	ignoreMissing(client.CoreV1().Secrets(testcluster.DemoNamespace).Delete(ctx,
		"registry-credentials", metav1.DeleteOptions{}))
	ignoreMissing(client.AppsV1().DaemonSets(testcluster.DemoNamespace).Delete(ctx,
		"release-images", metav1.DeleteOptions{}))
	objects := map[schema.GroupVersionResource]string{
		{Group: "config.openshift.io", Version: "v1", Resource: "imagedigestmirrorsets"}:        "imagedist-demo-release",
		{Group: "machineconfiguration.openshift.io", Version: "v1", Resource: "kubeletconfigs"}: "imagedist-demo-image-gc",
	}
	for resource, name := range objects {
		ignoreMissing(dynamicClient.Resource(resource).Delete(ctx, name, metav1.DeleteOptions{}))
	}

	for _, name := range linkedAccounts {
		accounts := client.CoreV1().ServiceAccounts(testcluster.DemoNamespace)
		account, err := accounts.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("restoring the cluster: %v", err)
			continue
		}
		account.ImagePullSecrets = nil
		for _, secret := range before.accountSecrets[name] {
			account.ImagePullSecrets = append(account.ImagePullSecrets,
				corev1.LocalObjectReference{Name: secret})
		}
		_, err = accounts.Update(ctx, account, metav1.UpdateOptions{})
		ignoreMissing(err)
	}

	secrets := client.CoreV1().Secrets("openshift-config")
	secret, err := secrets.Get(ctx, "pull-secret", metav1.GetOptions{})
	if err != nil {
		t.Errorf("restoring the cluster: %v", err)
		return
	}
	var document map[string]map[string]json.RawMessage
	if err := json.Unmarshal(secret.Data[".dockerconfigjson"], &document); err != nil {
		t.Errorf("restoring the cluster: %v", err)
		return
	}
	for registry := range document["auths"] {
		if !before.globalEntries[registry] {
			delete(document["auths"], registry)
		}
	}
	data, err := json.Marshal(document)
	if err != nil {
		t.Fatal(err)
	}
	secret.Data[".dockerconfigjson"] = data
	_, err = secrets.Update(ctx, secret, metav1.UpdateOptions{})
	ignoreMissing(err)
}

func accountPullSecrets(t *testing.T, client kubernetes.Interface, name string) []string {
	t.Helper()
	account, err := client.CoreV1().ServiceAccounts(testcluster.DemoNamespace).Get(
		context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, reference := range account.ImagePullSecrets {
		names = append(names, reference.Name)
	}
	return names
}

func globalPullSecretEntries(t *testing.T, client kubernetes.Interface) map[string]bool {
	t.Helper()
	secret, err := client.CoreV1().Secrets("openshift-config").Get(context.Background(),
		"pull-secret", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var document struct {
		Auths map[string]json.RawMessage `json:"auths"`
	}
	if err := json.Unmarshal(secret.Data[".dockerconfigjson"], &document); err != nil {
		t.Fatalf("the global pull secret is not a docker config: %v", err)
	}
	entries := map[string]bool{}
	for registry := range document.Auths {
		entries[registry] = true
	}
	return entries
}

// cliProcess is a CLI command running in the background.
type cliProcess struct {
	command *exec.Cmd
	output  *lockedBuffer
	done    chan error
}

// start runs the CLI in the background like run.
func (w *workDir) start(t *testing.T, env []string, args ...string) *cliProcess {
	t.Helper()
	command := exec.Command(w.program, append([]string{"-chdir=" + w.dir}, args...)...)
	command.Env = append(append([]string(nil), w.env...), env...)
	output := &lockedBuffer{}
	command.Stdout = output
	command.Stderr = output
	if err := command.Start(); err != nil {
		t.Fatal(err)
	}
	process := &cliProcess{command: command, output: output, done: make(chan error, 1)}
	go func() { process.done <- command.Wait() }()
	return process
}

// interrupt sends SIGINT, as Ctrl-C in a terminal does. With hold, it holds the request that
// triggered it until the CLI cancels it or interruptGrace passes, so the server does not
// receive it. Without, the request goes on at once and the server handles it while the CLI
// stops.
func (p *cliProcess) interrupt(ctx context.Context, hold bool) error {
	if err := p.command.Process.Signal(os.Interrupt); err != nil {
		return err
	}
	if !hold {
		return nil
	}
	select {
	case <-ctx.Done():
	case <-time.After(interruptGrace):
	}
	return nil
}

// wait waits for the command to exit, and kills it after commandTimeout.
func (p *cliProcess) wait(t *testing.T) (string, int) {
	t.Helper()
	var err error
	select {
	case err = <-p.done:
	case <-time.After(commandTimeout):
		_ = p.command.Process.Kill()
		<-p.done
		t.Fatalf("the interrupted command did not exit within %s", commandTimeout)
	}
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return p.output.String(), code
}

// lockedBuffer is a bytes.Buffer that the process's output goroutines and the test share.
type lockedBuffer struct {
	mu     sync.Mutex
	buffer bytes.Buffer
}

func (b *lockedBuffer) Write(data []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buffer.Write(data)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buffer.String()
}
