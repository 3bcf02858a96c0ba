package provider

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
	"github.com/imagedist/terraform-provider-imagedist/internal/faultproxy"
	"github.com/imagedist/terraform-provider-imagedist/internal/kubeletgc"
	"github.com/imagedist/terraform-provider-imagedist/internal/mirrors"
	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

// envFaultMatrix names the file that the fault matrix tests write their Markdown table to.
const envFaultMatrix = "IMAGEDIST_FAULT_MATRIX"

// fault is one column of the matrix: a fault for mutations and one for reads.
type fault struct {
	name string
	// mutation is the fault of the first mutation of apply and of destroy, and read the
	// fault of the first read of the plan after apply.
	mutation, read faultproxy.Fault
	// concurrentWriter marks the fault that needs the resource's concurrent writer.
	concurrentWriter bool
}

func matrixFaults() []fault {
	throttle := faultproxy.Status(http.StatusTooManyRequests, time.Second)
	internal := faultproxy.Status(http.StatusInternalServerError, 0)
	unavailable := faultproxy.Status(http.StatusServiceUnavailable, 0)
	delay := faultproxy.Delay(2 * time.Second)
	return []fault{
		{name: "429 with Retry-After 1s", mutation: throttle, read: throttle},
		{name: "500", mutation: internal, read: internal},
		{name: "503", mutation: unavailable, read: unavailable},
		{name: "connection dropped before", mutation: faultproxy.DropBefore(),
			read: faultproxy.DropBefore()},
		{name: "connection dropped after", mutation: faultproxy.DropAfter(),
			read: faultproxy.DropAfter()},
		{name: "delay 2s", mutation: delay, read: delay},
		{name: "concurrent writer", concurrentWriter: true},
	}
}

// faultTarget is one row group of the matrix: a resource or data source with the requests
// that its faults hit and the checks against the API server.
type faultTarget struct {
	name string
	// config returns the configuration with the provider block.
	config func() string
	// create and destroy select the first mutation of apply and of destroy. A nil destroy
	// means that the target has none, as for a data source.
	create, destroy requestMatch
	// read selects the first read of the refresh after apply.
	read requestMatch
	// writer, when set, is the concurrent writer that runs just before the mutation.
	writer func(ctx context.Context) error
	// prepare, when set, runs before each cell, so that a cell starts from a known state.
	prepare func()
	// checkApplied and checkDestroyed ask the API server, without the proxy.
	checkApplied   func(*terraform.State) error
	checkDestroyed func() error
}

type requestMatch struct {
	method string
	path   *regexp.Regexp
}

// faultMatrix collects the rows of the Markdown table.
type faultMatrix struct {
	mu   sync.Mutex
	rows []string
}

func (m *faultMatrix) add(target, faultName, operation, outcome string, injected int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rows = append(m.rows, fmt.Sprintf("| %s | %s | %s | %s | %d |", target, faultName,
		operation, outcome, injected))
}

// write writes the table to the file that IMAGEDIST_FAULT_MATRIX names, if any.
func (m *faultMatrix) write(t *testing.T) {
	path := os.Getenv(envFaultMatrix)
	if path == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rows := append([]string(nil), m.rows...)
	sort.Strings(rows)
	table := "| resource | fault | operation | outcome | faults injected |\n" +
		"|---|---|---|---|---|\n" + strings.Join(rows, "\n") + "\n"
	if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
		t.Errorf("writing the fault matrix to %s: %v", path, err)
	}
}

// faultHarness is the proxy in front of the shared control plane and the kubeconfig that
// points the provider at it.
type faultHarness struct {
	proxy      *faultproxy.Proxy
	kubeconfig string
	matrix     *faultMatrix
}

func newFaultHarness(t *testing.T) *faultHarness {
	t.Helper()
	requireAcceptance(t)
	restConfig, err := testcluster.ProviderRESTConfigFromEnv()
	if err != nil {
		t.Fatalf("cluster configuration: %v", err)
	}
	proxy, err := faultproxy.Start(restConfig)
	if err != nil {
		t.Fatalf("starting the fault proxy: %v", err)
	}
	t.Cleanup(proxy.Close)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := proxy.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatalf("writing the proxy's kubeconfig: %v", err)
	}
	return &faultHarness{proxy: proxy, kubeconfig: kubeconfig, matrix: sharedFaultMatrix}
}

// sharedFaultMatrix is the table of every TestAccFault test of one run.
var sharedFaultMatrix = &faultMatrix{}

func (h *faultHarness) providerBlock() string {
	return fmt.Sprintf("provider \"imagedist\" {\n  config_path    = %q\n  "+
		"config_context = %q\n}\n", h.kubeconfig, faultproxy.ContextName)
}

// run applies, plans and destroys target under each fault, one subtest per fault.
func (h *faultHarness) run(t *testing.T, target faultTarget) {
	for _, column := range matrixFaults() {
		if column.concurrentWriter && target.writer == nil {
			continue
		}
		t.Run(column.name, func(t *testing.T) {
			h.runCell(t, target, column)
		})
	}
	h.matrix.write(t)
}

func (h *faultHarness) runCell(t *testing.T, target faultTarget, column fault) {
	rule := func(name string, match requestMatch, fault faultproxy.Fault) *faultproxy.Rule {
		return &faultproxy.Rule{Name: name, Method: match.method, Path: match.path, Times: 1,
			Fault: fault}
	}
	if target.prepare != nil {
		target.prepare()
	}
	mutation := column.mutation
	if column.concurrentWriter {
		mutation = faultproxy.Before("concurrent writer", target.writer)
	}
	hasDestroy := target.destroy.method != ""
	applied, planned := false, false

	h.proxy.Reset()
	// resource.Test stops the test with t.Fatal, so the rows are recorded in a deferred call.
	defer h.record(t, target, column, hasDestroy, &applied, &planned)
	config := h.providerBlock() + target.config()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			planned = !t.Failed()
			if !hasDestroy {
				return nil
			}
			if got := h.proxy.Injected()["destroy"]; got != 1 {
				return fmt.Errorf("the destroy fault fired %d times, expected once", got)
			}
			return target.checkDestroyed()
		},
		Steps: []resource.TestStep{{
			PreConfig: func() {
				h.proxy.Add(rule("apply", target.create, mutation))
			},
			Config: config,
			Check: func(state *terraform.State) error {
				if got := h.proxy.Injected()["apply"]; got != 1 {
					return fmt.Errorf("the apply fault fired %d times, expected once", got)
				}
				if err := target.checkApplied(state); err != nil {
					return err
				}
				applied = true
				// The plan after apply meets the read fault, and destroy the mutation one.
				if !column.concurrentWriter {
					h.proxy.Add(rule("plan", target.read, column.read))
				}
				if hasDestroy {
					h.proxy.Add(rule("destroy", target.destroy, mutation))
				}
				return nil
			},
		}},
	})
	if injected := h.proxy.Injected()["plan"]; !column.concurrentWriter && injected != 1 {
		t.Errorf("the plan fault fired %d times, expected once", injected)
	}
}

// record adds the rows of one cell to the matrix. Plan and destroy are "not run" after a
// failed apply, because their faults are set up by the apply's check.
func (h *faultHarness) record(t *testing.T, target faultTarget, column fault,
	hasDestroy bool, applied, planned *bool) {
	injected := h.proxy.Injected()
	later := func(converged bool) string {
		if !*applied {
			return "not run"
		}
		return outcomeText(converged)
	}
	h.matrix.add(target.name, column.name, "apply", outcomeText(*applied), injected["apply"])
	if !column.concurrentWriter {
		h.matrix.add(target.name, column.name, "plan", later(*planned), injected["plan"])
	}
	if hasDestroy {
		h.matrix.add(target.name, column.name, "destroy", later(!t.Failed()),
			injected["destroy"])
	}
}

func outcomeText(converged bool) string {
	if converged {
		return "converged"
	}
	return "FAILED"
}

func pathOf(pattern string) *regexp.Regexp {
	return regexp.MustCompile(pattern)
}

// TestAccFaultPullSecret runs imagedist_pull_secret, linked to a service account, through
// the fault matrix. Its first mutation is the Secret's create, and the concurrent writer
// links another secret to the account between the provider's read and its update.
func TestAccFaultPullSecret(t *testing.T) {
	h := newFaultHarness(t)
	cluster := newPullSecretCluster(t)
	cluster.createServiceAccount("builder", "builder-dockercfg-abc12")
	accounts := cluster.client.CoreV1().ServiceAccounts(cluster.namespace)
	writerEntries := []string{}

	writer := func(ctx context.Context) error {
		entry := fmt.Sprintf("writer-%d", len(writerEntries))
		writerEntries = append(writerEntries, entry)
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			account, err := accounts.Get(ctx, "builder", metav1.GetOptions{})
			if err != nil {
				return err
			}
			account.ImagePullSecrets = append(account.ImagePullSecrets,
				corev1.LocalObjectReference{Name: entry})
			_, err = accounts.Update(ctx, account, metav1.UpdateOptions{})
			return err
		})
	}
	target := faultTarget{
		name: "imagedist_pull_secret",
		// Each cell writes a Secret of its own, so a failed cell leaves nothing in the way
		// of the next, and the account starts with OpenShift's entry only.
		prepare: func() {
			cluster.name = acctest.RandomWithPrefix("registry")
			cluster.setAccountPullSecrets("builder", "builder-dockercfg-abc12")
			writerEntries = nil
		},
		config: func() string {
			return cluster.config(`
  link_service_accounts = ["builder"]
  registry {
    server   = "quay.io"
    username = "robot"
    password = "token"
  }
`)
		},
		create: requestMatch{http.MethodPost,
			pathOf("/namespaces/" + cluster.namespace + "/secrets$")},
		destroy: requestMatch{http.MethodDelete,
			pathOf("/namespaces/" + cluster.namespace + "/secrets/")},
		read: requestMatch{http.MethodGet,
			pathOf("/namespaces/" + cluster.namespace + "/secrets/")},
		checkApplied: func(*terraform.State) error {
			auths, err := cluster.readAuths()
			if err != nil {
				return err
			}
			if auths["quay.io"].Username != "robot" || len(auths) != 1 {
				return fmt.Errorf("Secret auths = %v, expected one entry for quay.io", auths)
			}
			expected := append([]string{"builder-dockercfg-abc12"}, writerEntries...)
			return checkEntriesOnce(cluster, append(expected, cluster.name))
		},
		checkDestroyed: func() error {
			if err := cluster.checkDestroyed(nil); err != nil {
				return err
			}
			return checkEntriesOnce(cluster,
				append([]string{"builder-dockercfg-abc12"}, writerEntries...))
		},
	}
	h.run(t, target)

	// The concurrent writer meets the service account's updates, which are not the first
	// mutation of this resource, so it runs as a target of its own.
	writerTarget := target
	writerTarget.name = "imagedist_pull_secret (service account link)"
	writerTarget.create = requestMatch{http.MethodPut,
		pathOf("/namespaces/" + cluster.namespace + "/serviceaccounts/builder$")}
	writerTarget.destroy = writerTarget.create
	writerTarget.writer = writer
	t.Run("service account link", func(t *testing.T) {
		h.runCell(t, writerTarget, fault{name: "concurrent writer", concurrentWriter: true})
		h.matrix.write(t)
	})
}

// checkEntriesOnce checks that the builder account lists exactly the expected entries, each
// once, in any order.
func checkEntriesOnce(cluster *pullSecretCluster, expected []string) error {
	names, err := cluster.accountPullSecrets("builder")
	if err != nil {
		return err
	}
	got := append([]string(nil), names...)
	want := append([]string(nil), expected...)
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		return fmt.Errorf("builder imagePullSecrets = %v, expected each of %v once", names,
			expected)
	}
	return nil
}

// TestAccFaultClusterPullSecret runs imagedist_cluster_pull_secret through the fault
// matrix. Its mutations are updates of openshift-config/pull-secret, and the concurrent
// writer adds an entry of its own between the provider's read and its update.
func TestAccFaultClusterPullSecret(t *testing.T) {
	h := newFaultHarness(t)
	global := newGlobalSecretTest(t)
	writerKeys := []string{}

	secretPath := pathOf("/namespaces/" + globalPullSecretNamespace + "/secrets/" +
		globalPullSecretName + "$")
	target := faultTarget{
		name: "imagedist_cluster_pull_secret",
		config: func() string {
			return clusterPullSecretConfig(fmt.Sprintf(`  server   = %q
  username = "robot"
  password = "token"`, global.registry))
		},
		// Each cell writes a registry of its own to a document restored to the original.
		prepare: func() {
			global.restore()
			global.registry = acctest.RandomWithPrefix("registry") + ".example.com"
			writerKeys = nil
		},
		create:  requestMatch{http.MethodPut, secretPath},
		destroy: requestMatch{http.MethodPut, secretPath},
		read:    requestMatch{http.MethodGet, secretPath},
		writer: func(ctx context.Context) error {
			key := acctest.RandomWithPrefix("writer") + ".example.com"
			writerKeys = append(writerKeys, key)
			return global.edit(func(document *dockerconfig.Config) error {
				return document.Merge(dockerconfig.Entry{Server: key, Username: "other",
					Password: "other"})
			})
		},
		checkApplied: func(*terraform.State) error {
			if err := global.checkEntry(global.registry,
				dockerConfigAuth{Username: "robot", Password: "token"})(nil); err != nil {
				return err
			}
			return global.checkOthersUnchanged(append([]string{global.registry},
				writerKeys...)...)(nil)
		},
		checkDestroyed: func() error {
			for _, key := range writerKeys {
				if err := global.checkEntry(key,
					dockerConfigAuth{Username: "other", Password: "other"})(nil); err != nil {
					return err
				}
			}
			return global.checkOthersUnchanged(writerKeys...)(nil)
		},
	}
	h.run(t, target)
}

// TestAccFaultImagePuller runs imagedist_image_puller with the daemonset backend through the
// fault matrix, with played kubelets that cache the images on the worker nodes.
func TestAccFaultImagePuller(t *testing.T) {
	h := newFaultHarness(t)
	cluster := newImagePullerCluster(t)
	daemonSets := "/namespaces/" + cluster.namespace + "/daemonsets"

	h.run(t, faultTarget{
		name: "imagedist_image_puller (daemonset)",
		prepare: func() {
			cluster.name = acctest.RandomWithPrefix("prepull")
		},
		config: func() string {
			return cluster.config(twoImages)
		},
		create:  requestMatch{http.MethodPost, pathOf(daemonSets + "$")},
		destroy: requestMatch{http.MethodDelete, pathOf(daemonSets + "/")},
		read:    requestMatch{http.MethodGet, pathOf(daemonSets + "/")},
		checkApplied: resource.ComposeTestCheckFunc(
			cluster.checkContainers(map[string]string{
				"api": testImageAPI, "static-bin": testImageScratch,
			}),
			resource.TestCheckResourceAttr(imagePullerAddress, "nodes_cached",
				fmt.Sprint(len(workerNodes))),
		),
		checkDestroyed: func() error {
			return cluster.checkDestroyed(nil)
		},
	})
}

// TestAccFaultRegistryMirror runs imagedist_registry_mirror through the fault matrix. Its
// first mutation is the create of the ImageDigestMirrorSet.
func TestAccFaultRegistryMirror(t *testing.T) {
	h := newFaultHarness(t)
	cluster := newRegistryMirrorCluster(t)
	sets := "/apis/config.openshift.io/v1/imagedigestmirrorsets"

	h.run(t, faultTarget{
		name: "imagedist_registry_mirror",
		prepare: func() {
			cluster.name = acctest.RandomWithPrefix("mirror")
		},
		config: func() string {
			return cluster.config(fmt.Sprintf(`
  mirror {
    source  = %q
    mirrors = ["a.example.com/q", "b.example.com/q"]
  }
`, cluster.source))
		},
		create:  requestMatch{http.MethodPost, pathOf(sets + "$")},
		destroy: requestMatch{http.MethodDelete, pathOf(sets + "/[^/]+$")},
		read:    requestMatch{http.MethodGet, pathOf(sets + "/[^/]+$")},
		checkApplied: cluster.checkRules(mirrors.KindImageDigestMirrorSet, []mirrors.Rule{{
			Source:  cluster.source,
			Mirrors: []string{"a.example.com/q", "b.example.com/q"},
		}}),
		checkDestroyed: func() error {
			return cluster.checkDestroyed(nil)
		},
	})
}

// TestAccFaultKubeletImageGC runs imagedist_kubelet_image_gc through the fault matrix, with
// a played machine-config operator that accepts the KubeletConfig.
func TestAccFaultKubeletImageGC(t *testing.T) {
	h := newFaultHarness(t)
	cluster := newKubeletImageGCCluster(t)
	cluster.operator(&testcluster.MachineConfigOperator{Style: testcluster.ConditionStyle423})
	configs := "/apis/machineconfiguration.openshift.io/v1/kubeletconfigs"
	base, cell := cluster.name, 0

	h.run(t, faultTarget{
		name: "imagedist_kubelet_image_gc",
		// The played operator handles the names that start with the first name.
		prepare: func() {
			cell++
			cluster.name = fmt.Sprintf("%s-%d", base, cell)
		},
		config: func() string {
			return cluster.config(workerGCBody)
		},
		create:  requestMatch{http.MethodPost, pathOf(configs + "$")},
		destroy: requestMatch{http.MethodDelete, pathOf(configs + "/[^/]+$")},
		read:    requestMatch{http.MethodGet, pathOf(configs + "/[^/]+$")},
		checkApplied: resource.ComposeTestCheckFunc(
			cluster.checkClusterKey(kubeletgc.KeyHighThresholdPercent, 90),
			cluster.checkClusterKey(kubeletgc.KeyLowThresholdPercent, 70),
			cluster.checkClusterKey(kubeletgc.KeyMinimumGCAge, "90s"),
		),
		checkDestroyed: func() error {
			return cluster.checkDestroyed(nil)
		},
	})
}

// TestAccFaultDataSources runs the cluster data sources through the fault matrix. Their
// first read is the first list request, which both the apply and the plan after it send.
func TestAccFaultDataSources(t *testing.T) {
	h := newFaultHarness(t)
	nodes := requestMatch{http.MethodGet, pathOf("^/api/v1/nodes$")}
	events := requestMatch{http.MethodGet, pathOf("^/api/v1/namespaces/default/events$")}

	t.Run("node images", func(t *testing.T) {
		h.run(t, faultTarget{
			name: "imagedist_node_images",
			config: func() string {
				return `data "imagedist_node_images" "test" {}`
			},
			create:       nodes,
			read:         nodes,
			checkApplied: checkNodeImagesMatchAPI(t, ""),
		})
	})
	t.Run("image pulls", func(t *testing.T) {
		h.run(t, faultTarget{
			name: "imagedist_image_pulls",
			config: func() string {
				return `data "imagedist_image_pulls" "test" { namespace = "default" }`
			},
			create: events,
			read:   events,
			checkApplied: resource.TestCheckResourceAttrSet("data.imagedist_image_pulls.test",
				"namespace"),
		})
	})
}
