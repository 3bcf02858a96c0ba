package nodeimages

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/imagedist/terraform-provider-imagedist/internal/kubeletgc"
)

// repeatingEventServer serves on loopback an event list whose every page contains one
// ImageGCFailed event and the same continue token, as a server that ignores the continue
// parameter would.
func repeatingEventServer(t *testing.T, pages *atomic.Int64) *httptest.Server {
	t.Helper()
	server := httptest.NewServer(http.HandlerFunc(func(writer http.ResponseWriter,
		request *http.Request) {
		pages.Add(1)
		list := corev1.EventList{
			TypeMeta: metav1.TypeMeta{Kind: "EventList", APIVersion: "v1"},
			ListMeta: metav1.ListMeta{Continue: "same-token"},
			Items: []corev1.Event{*nodeEvent("worker-0", ReasonImageGCFailed, "failed", 1,
				time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC))},
		}
		writer.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(writer).Encode(list)
	}))
	t.Cleanup(server.Close)
	return server
}

func TestReadGCFailuresRepeatedContinueToken(t *testing.T) {
	var pages atomic.Int64
	server := repeatingEventServer(t, &pages)
	config := &rest.Config{Host: server.URL, QPS: 1000, Burst: 1000}
	client := kubernetes.NewForConfigOrDie(config).CoreV1()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()

	failures, err := ReadGCFailures(ctx, client)

	if err == nil {
		t.Fatalf("ReadGCFailures = %v after %d pages, expected an error", failures,
			pages.Load())
	}
	if ctx.Err() != nil {
		t.Errorf("ReadGCFailures ran until the test's deadline over %d pages: %v",
			pages.Load(), err)
	}
	if !strings.Contains(err.Error(), "continue token") {
		t.Errorf("error = %q, expected it to name the repeated continue token", err)
	}
}

func TestAddGCFailureHostileEvents(t *testing.T) {
	failures := map[string]GCFailures{}
	negative := nodeEvent("worker-0", ReasonImageGCFailed, "negative", -5, time.Time{})
	AddGCFailure(failures, negative)
	unnamed := nodeEvent("", ReasonImageGCFailed, "unnamed", 1, time.Time{})
	AddGCFailure(failures, unnamed)
	pod := nodeEvent("worker-0", ReasonImageGCFailed, "pod", 1, time.Time{})
	pod.InvolvedObject.Kind = "Pod"
	AddGCFailure(failures, pod)

	if len(failures) != 1 {
		t.Fatalf("failures = %v, expected worker-0 only", failures)
	}
	if failures["worker-0"].Count != 1 {
		t.Errorf("count = %d, expected 1 for an event with a negative count",
			failures["worker-0"].Count)
	}
	if failures["worker-0"].LastMessage != "negative" {
		t.Errorf("last message = %q, expected %q", failures["worker-0"].LastMessage,
			"negative")
	}
}

// The machine-config operator renders each KubeletConfig into its own MachineConfig, whose
// kubelet.conf is the pool's template with only that KubeletConfig's fields applied
// (syncKubeletConfig in pkg/controller/kubelet-config, openshift/machine-config-operator).
// The MachineConfig with the higher name then replaces the whole file, so a later
// KubeletConfig that leaves the threshold out puts the kubelet back on its default.
func TestGCThresholdsLaterConfigWithoutThreshold(t *testing.T) {
	pools := []mcfgv1.MachineConfigPool{
		testPool("worker", map[string]string{kubeletgc.PoolLabelPrefix + "worker": ""},
			map[string]string{"node-role.kubernetes.io/worker": ""}),
	}
	configs := []mcfgv1.KubeletConfig{
		testKubeletConfig("worker-gc", "", "worker", `{"imageGCHighThresholdPercent":60}`),
		testKubeletConfig("worker-pods", "1", "worker", `{"maxPods":300}`),
	}
	nodes := []Node{{Name: "worker-0",
		Labels: map[string]string{"node-role.kubernetes.io/worker": ""}}}

	thresholds, err := GCThresholds(nodes, pools, configs)
	if err != nil {
		t.Fatalf("GCThresholds: %v", err)
	}
	got := thresholds["worker-0"].HighThresholdPercent
	if got != kubeletgc.DefaultHighThresholdPercent {
		t.Errorf("threshold = %d, expected the default %d, because the later "+
			"KubeletConfig's kubelet.conf replaces the earlier one's", got,
			kubeletgc.DefaultHighThresholdPercent)
	}
}

// A KubeletConfig that does not parse leaves its own pool without a threshold, but not the
// other pools.
func TestGCThresholdsBrokenConfigOtherPool(t *testing.T) {
	pools := []mcfgv1.MachineConfigPool{
		testPool("worker", map[string]string{kubeletgc.PoolLabelPrefix + "worker": ""},
			map[string]string{"node-role.kubernetes.io/worker": ""}),
		testPool("infra", map[string]string{kubeletgc.PoolLabelPrefix + "infra": ""},
			map[string]string{"node-role.kubernetes.io/infra": ""}),
	}
	configs := []mcfgv1.KubeletConfig{
		testKubeletConfig("worker-gc", "", "worker", `{"imageGCHighThresholdPercent":70}`),
		testKubeletConfig("infra-broken", "", "infra", `{"imageGCHighThresholdPercent":"x"}`),
	}
	nodes := []Node{
		{Name: "worker-0", Labels: map[string]string{"node-role.kubernetes.io/worker": ""}},
		{Name: "infra-0", Labels: map[string]string{"node-role.kubernetes.io/infra": ""}},
	}

	thresholds, err := GCThresholds(nodes, pools, configs)

	if err == nil || !strings.Contains(err.Error(), "infra-broken") {
		t.Errorf("error = %v, expected it to name infra-broken", err)
	}
	if got := thresholds["worker-0"].HighThresholdPercent; got != 70 {
		t.Errorf("threshold of worker-0 = %d, expected 70", got)
	}
	if threshold, ok := thresholds["infra-0"]; ok {
		t.Errorf("infra-0 has the threshold %+v, expected none", threshold)
	}
}

// The kubelet records its events about a node, which is cluster-scoped, in the namespace
// default. Anyone who may create events in another namespace could otherwise forge a node's
// failures and put any message into Terraform state.
func TestReadGCFailuresIgnoresOtherNamespaces(t *testing.T) {
	when := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	real := nodeEvent("worker-0", ReasonImageGCFailed, "real failure", 2, when)
	real.Name, real.Namespace = "worker-0.real", metav1.NamespaceDefault
	real.Source.Component = "kubelet"
	forged := nodeEvent("worker-0", ReasonImageGCFailed, "forged by a tenant", 1000,
		when.Add(time.Hour))
	forged.Name, forged.Namespace = "worker-0.forged", "tenant-a"
	forged.Source.Component = "kubelet"
	client := fake.NewClientset(real, forged)

	failures, err := ReadGCFailures(t.Context(), client.CoreV1())
	if err != nil {
		t.Fatalf("ReadGCFailures: %v", err)
	}
	got := failures["worker-0"]
	if got.Count != 2 {
		t.Errorf("count = %d, expected 2 from the namespace default only", got.Count)
	}
	if got.LastMessage != "real failure" {
		t.Errorf("last message = %q, expected the kubelet's %q", got.LastMessage,
			"real failure")
	}
}

// A custom pool made the documented way renders the worker pool's MachineConfigs too, through
// a machineConfigSelector on the role label with the values worker and infra. The worker
// KubeletConfig's generated MachineConfig, 99-worker-generated-kubelet, then reaches the
// infra nodes, and sorts after 99-infra-generated-kubelet.
func TestGCThresholdsCustomPoolInheritsWorker(t *testing.T) {
	infra := testPool("infra", map[string]string{kubeletgc.PoolLabelPrefix + "infra": ""},
		map[string]string{"node-role.kubernetes.io/infra": ""})
	infra.Spec.MachineConfigSelector = &metav1.LabelSelector{
		MatchExpressions: []metav1.LabelSelectorRequirement{{
			Key:      "machineconfiguration.openshift.io/role",
			Operator: metav1.LabelSelectorOpIn,
			Values:   []string{"worker", "infra"},
		}},
	}
	pools := []mcfgv1.MachineConfigPool{
		testPool("worker", map[string]string{kubeletgc.PoolLabelPrefix + "worker": ""},
			map[string]string{"node-role.kubernetes.io/worker": ""}),
		infra,
	}
	configs := []mcfgv1.KubeletConfig{
		testKubeletConfig("worker-gc", "", "worker", `{"imageGCHighThresholdPercent":70}`),
	}
	nodes := []Node{{Name: "infra-0", Labels: map[string]string{
		"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/infra": ""}}}

	thresholds, err := GCThresholds(nodes, pools, configs)
	if err != nil {
		t.Fatalf("GCThresholds: %v", err)
	}
	threshold, ok := thresholds["infra-0"]
	if !ok {
		t.Fatalf("infra-0 has no threshold, expected 70 from worker-gc")
	}
	if threshold.HighThresholdPercent != 70 {
		t.Errorf("threshold of infra-0 = %d, expected 70", threshold.HighThresholdPercent)
	}
}

// The worker pool's generated MachineConfig sorts after the infra pool's, so its
// kubelet.conf replaces the one of the infra pool's own KubeletConfig.
func TestGCThresholdsCustomPoolWorkerSortsLast(t *testing.T) {
	infra := testPool("infra", map[string]string{kubeletgc.PoolLabelPrefix + "infra": ""},
		map[string]string{"node-role.kubernetes.io/infra": ""})
	infra.Spec.MachineConfigSelector = &metav1.LabelSelector{
		MatchExpressions: []metav1.LabelSelectorRequirement{{
			Key:      "machineconfiguration.openshift.io/role",
			Operator: metav1.LabelSelectorOpIn,
			Values:   []string{"worker", "infra"},
		}},
	}
	pools := []mcfgv1.MachineConfigPool{
		testPool("worker", map[string]string{kubeletgc.PoolLabelPrefix + "worker": ""},
			map[string]string{"node-role.kubernetes.io/worker": ""}),
		infra,
	}
	configs := []mcfgv1.KubeletConfig{
		testKubeletConfig("infra-gc", "", "infra", `{"imageGCHighThresholdPercent":60}`),
		testKubeletConfig("worker-gc", "", "worker", `{"imageGCHighThresholdPercent":70}`),
	}
	nodes := []Node{
		{Name: "infra-0", Labels: map[string]string{
			"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/infra": ""}},
		{Name: "worker-0", Labels: map[string]string{"node-role.kubernetes.io/worker": ""}},
	}

	thresholds, err := GCThresholds(nodes, pools, configs)
	if err != nil {
		t.Fatalf("GCThresholds: %v", err)
	}
	if got := thresholds["infra-0"]; got.Pool != "infra" || got.HighThresholdPercent != 70 {
		t.Errorf("threshold of infra-0 = %+v, expected pool infra at 70", got)
	}
	if got := thresholds["worker-0"]; got.HighThresholdPercent != 70 {
		t.Errorf("threshold of worker-0 = %+v, expected 70", got)
	}
}
