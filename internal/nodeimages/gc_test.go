package nodeimages

import (
	"testing"
	"time"

	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/imagedist/terraform-provider-imagedist/internal/kubeletgc"
)

func nodeEvent(node, reason, message string, count int32, last time.Time) *corev1.Event {
	return &corev1.Event{
		InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: node},
		Reason:         reason, Message: message, Type: corev1.EventTypeWarning,
		Count: count, LastTimestamp: metav1.NewTime(last),
	}
}

func TestAddGCFailureCountsAndLatest(t *testing.T) {
	base := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	failures := map[string]GCFailures{}
	AddGCFailure(failures, nodeEvent("worker-0", ReasonImageGCFailed, "first", 3, base))
	AddGCFailure(failures, nodeEvent("worker-0", ReasonFreeDiskSpaceFailed, "latest", 1,
		base.Add(time.Minute)))
	AddGCFailure(failures, nodeEvent("worker-0", ReasonImageGCFailed, "older", 0,
		base.Add(-time.Minute)))
	// Other reasons and kinds do not count.
	AddGCFailure(failures, nodeEvent("worker-0", "Rebooted", "other reason", 1, base))
	other := nodeEvent("worker-1", ReasonImageGCFailed, "about a pod", 1, base)
	other.InvolvedObject.Kind = "Pod"
	AddGCFailure(failures, other)

	node, ok := failures["worker-0"]
	if !ok {
		t.Fatalf("failures = %v, expected an entry for worker-0", failures)
	}
	if node.Count != 5 {
		t.Errorf("count = %d, expected 5 (3 + 1 + 1 for an event without count)", node.Count)
	}
	if node.LastMessage != "latest" {
		t.Errorf("last message = %q, expected %q", node.LastMessage, "latest")
	}
	if !node.LastTime.Equal(base.Add(time.Minute)) {
		t.Errorf("last time = %s, expected %s", node.LastTime, base.Add(time.Minute))
	}
	if len(failures) != 1 {
		t.Errorf("failures = %v, expected worker-0 only", failures)
	}
}

func TestAddGCFailureSeries(t *testing.T) {
	last := time.Date(2026, 12, 4, 11, 0, 0, 0, time.UTC)
	event := &corev1.Event{
		InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: "worker-2"},
		Reason:         ReasonImageGCFailed, Message: "series",
		EventTime: metav1.NewMicroTime(last.Add(-time.Hour)),
		Series:    &corev1.EventSeries{Count: 7, LastObservedTime: metav1.NewMicroTime(last)},
	}
	failures := map[string]GCFailures{}
	AddGCFailure(failures, event)

	node := failures["worker-2"]
	if node.Count != 7 {
		t.Errorf("count = %d, expected the series count 7", node.Count)
	}
	if !node.LastTime.Equal(last) {
		t.Errorf("last time = %s, expected the series' last observed time %s", node.LastTime,
			last)
	}
}

func testPool(name string, labels, nodeSelector map[string]string) mcfgv1.MachineConfigPool {
	return mcfgv1.MachineConfigPool{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: mcfgv1.MachineConfigPoolSpec{
			NodeSelector: &metav1.LabelSelector{MatchLabels: nodeSelector},
		},
	}
}

func testKubeletConfig(name, suffix, pool, settings string) mcfgv1.KubeletConfig {
	config := mcfgv1.KubeletConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: mcfgv1.KubeletConfigSpec{
			MachineConfigPoolSelector: &metav1.LabelSelector{MatchLabels: map[string]string{
				kubeletgc.PoolLabelPrefix + pool: "",
			}},
			KubeletConfig: &runtime.RawExtension{Raw: []byte(settings)},
		},
	}
	if suffix != "" {
		config.Annotations = map[string]string{
			kubeletgc.AnnotationMachineConfigNameSuffix: suffix,
		}
	}
	return config
}

func TestGCThresholdsByPool(t *testing.T) {
	pools := []mcfgv1.MachineConfigPool{
		testPool("master", map[string]string{kubeletgc.PoolLabelPrefix + "master": ""},
			map[string]string{"node-role.kubernetes.io/master": ""}),
		testPool("worker", map[string]string{kubeletgc.PoolLabelPrefix + "worker": ""},
			map[string]string{"node-role.kubernetes.io/worker": ""}),
		testPool("infra", map[string]string{kubeletgc.PoolLabelPrefix + "infra": ""},
			map[string]string{"node-role.kubernetes.io/infra": ""}),
	}
	configs := []mcfgv1.KubeletConfig{
		// The later MachineConfig, with suffix 1, overrides the first.
		testKubeletConfig("worker-gc-late", "1", "worker", `{"imageGCHighThresholdPercent":75}`),
		testKubeletConfig("worker-gc", "", "worker", `{"imageGCHighThresholdPercent":90}`),
		// A KubeletConfig without the field gives the kubelet default.
		testKubeletConfig("infra-other", "", "infra", `{"maxPods":300}`),
		// An empty selector selects no pool.
		{ObjectMeta: metav1.ObjectMeta{Name: "empty"}, Spec: mcfgv1.KubeletConfigSpec{
			MachineConfigPoolSelector: &metav1.LabelSelector{},
			KubeletConfig: &runtime.RawExtension{
				Raw: []byte(`{"imageGCHighThresholdPercent":60}`)},
		}},
	}
	nodes := []Node{
		{Name: "master-0", Labels: map[string]string{"node-role.kubernetes.io/master": ""}},
		{Name: "worker-0", Labels: map[string]string{"node-role.kubernetes.io/worker": ""}},
		{Name: "infra-0", Labels: map[string]string{
			"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/infra": ""}},
		{Name: "loose-0", Labels: map[string]string{"team": "none"}},
	}

	thresholds, err := GCThresholds(nodes, pools, configs)
	if err != nil {
		t.Fatalf("GCThresholds: %v", err)
	}
	expected := map[string]GCThreshold{
		"worker-0": {Pool: "worker", HighThresholdPercent: 75},
		"infra-0":  {Pool: "infra", HighThresholdPercent: kubeletgc.DefaultHighThresholdPercent},
	}
	if len(thresholds) != len(expected) {
		t.Errorf("thresholds = %v, expected %v", thresholds, expected)
	}
	for name, want := range expected {
		if got, ok := thresholds[name]; !ok || got != want {
			t.Errorf("threshold of %s = %+v (found %v), expected %+v", name, got, ok, want)
		}
	}
}

func TestGCThresholdsInvalidConfig(t *testing.T) {
	pools := []mcfgv1.MachineConfigPool{
		testPool("worker", map[string]string{kubeletgc.PoolLabelPrefix + "worker": ""},
			map[string]string{"node-role.kubernetes.io/worker": ""}),
	}
	configs := []mcfgv1.KubeletConfig{
		testKubeletConfig("broken", "", "worker", `{"imageGCHighThresholdPercent":"high"}`),
	}
	if _, err := GCThresholds(nil, pools, configs); err == nil {
		t.Errorf("GCThresholds returned no error for a threshold that is a string")
	}
}
