package puller

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenSpec returns a Spec that sets every field.
func goldenSpec(keepCached bool) Spec {
	images, problems := Images(map[string]string{
		"Static_Bin": "quay.io/team/static@" + testDigest,
		"api":        "quay.io/team/api:3.8.2",
	})
	if len(problems) != 0 {
		panic(problems)
	}

	return Spec{
		Name:        "cache",
		Namespace:   "imagedist",
		Images:      images,
		KeepCached:  keepCached,
		HelperImage: "registry.example.com/mirror/busybox:1.37.0",
		NodeSelector: map[string]string{
			"node-role.kubernetes.io/worker": "",
			"topology.kubernetes.io/zone":    "a",
		},
		Tolerations: []corev1.Toleration{{
			Key:      "dedicated",
			Operator: corev1.TolerationOpEqual,
			Value:    "build",
			Effect:   corev1.TaintEffectNoSchedule,
		}},
		Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchExpressions: []corev1.NodeSelectorRequirement{{
						Key:      "kubernetes.io/arch",
						Operator: corev1.NodeSelectorOpIn,
						Values:   []string{"amd64", "arm64"},
					}},
				}},
			},
		}},
		ImagePullSecrets: []string{"quay-team", "mirror"},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("5m"),
				corev1.ResourceMemory: resource.MustParse("8Mi"),
			},
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("16Mi")},
		},
		PriorityClassName: "system-node-critical",
		MaxUnavailable:    intstr.FromInt32(3),
		Labels:            map[string]string{"team": "platform"},
	}
}

func TestDaemonSetGolden(t *testing.T) {
	tests := []struct {
		file string
		spec Spec
	}{
		{"daemonset-keep-cached.json", goldenSpec(true)},
		{"daemonset-pull-only.json", goldenSpec(false)},
		{"daemonset-minimal.json", Spec{
			Name:       "minimal",
			Namespace:  "default",
			Images:     []Image{{Key: "web", Reference: "nginx:1.27", Container: "web"}},
			KeepCached: true,
		}},
	}

	for _, test := range tests {
		t.Run(test.file, func(t *testing.T) {
			got, err := json.MarshalIndent(DaemonSet(test.spec), "", "  ")
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			got = append(got, '\n')

			path := filepath.Join("testdata", test.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatalf("write golden file: %v", err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden file (run with -update to create it): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("DaemonSet differs from %s (run with -update to accept):\n%s",
					path, got)
			}
		})
	}
}

func TestDaemonSetDeterministic(t *testing.T) {
	first, err := json.Marshal(DaemonSet(goldenSpec(true)))
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	for range 20 {
		again, err := json.Marshal(DaemonSet(goldenSpec(true)))
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if !bytes.Equal(first, again) {
			t.Fatalf("renderings differ:\n%s\n%s", first, again)
		}
	}
}

func TestDaemonSetLabels(t *testing.T) {
	spec := goldenSpec(true)
	spec.Labels = map[string]string{
		"team":        "platform",
		LabelName:     "user-name",
		LabelInstance: "user-instance",
	}
	ds := DaemonSet(spec)

	wantLabels := map[string]string{
		"team":         "platform",
		LabelName:      "imagedist-image-puller",
		LabelInstance:  "cache",
		LabelManagedBy: "terraform-provider-imagedist",
	}
	assertLabels(t, "metadata.labels", ds.Labels, wantLabels)
	assertLabels(t, "selector", ds.Spec.Selector.MatchLabels, map[string]string{
		LabelName:     "imagedist-image-puller",
		LabelInstance: "cache",
	})
	assertLabels(t, "template labels", ds.Spec.Template.Labels, map[string]string{
		LabelName:      "imagedist-image-puller",
		LabelInstance:  "cache",
		LabelManagedBy: "terraform-provider-imagedist",
	})
}

func assertLabels(t *testing.T, where string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %v, want %v", where, got, want)
		return
	}
	for key, value := range want {
		if got[key] != value {
			t.Errorf("%s[%q] = %q, want %q", where, key, got[key], value)
		}
	}
}

func TestDaemonSetKeepCachedContainers(t *testing.T) {
	spec := goldenSpec(true)
	pod := DaemonSet(spec).Spec.Template.Spec

	if len(pod.InitContainers) != 1 {
		t.Fatalf("got %d init containers, want 1", len(pod.InitContainers))
	}
	assertSleeper(t, pod.InitContainers[0], spec.HelperImage)

	if len(pod.Containers) != len(spec.Images) {
		t.Fatalf("got %d containers, want %d", len(pod.Containers), len(spec.Images))
	}
	for i, image := range spec.Images {
		assertSleeping(t, pod.Containers[i], image.Container, image.Reference, SleepDuration)
	}
}

func TestDaemonSetPullOnlyContainers(t *testing.T) {
	spec := goldenSpec(false)
	pod := DaemonSet(spec).Spec.Template.Spec

	if len(pod.InitContainers) != 1+len(spec.Images) {
		t.Fatalf("got %d init containers, want %d", len(pod.InitContainers),
			1+len(spec.Images))
	}
	assertSleeper(t, pod.InitContainers[0], spec.HelperImage)
	for i, image := range spec.Images {
		assertSleeping(t, pod.InitContainers[i+1], image.Container, image.Reference, "0")
	}

	if len(pod.Containers) != 1 {
		t.Fatalf("got %d containers, want 1", len(pod.Containers))
	}
	assertSleeping(t, pod.Containers[0], ContainerWait, spec.HelperImage, SleepDuration)
}

func assertSleeper(t *testing.T, c corev1.Container, image string) {
	t.Helper()
	if c.Name != ContainerSleeper {
		t.Errorf("sleeper name = %q, want %q", c.Name, ContainerSleeper)
	}
	if c.Image != image {
		t.Errorf("sleeper image = %q, want %q", c.Image, image)
	}
	wantCommand := []string{"cp", "/bin/sleep", SleeperPath}
	if !slices.Equal(c.Command, wantCommand) {
		t.Errorf("sleeper command = %q, want %q", c.Command, wantCommand)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != SleeperDir ||
		c.VolumeMounts[0].ReadOnly {
		t.Errorf("sleeper mounts = %+v, want a writable mount at %s", c.VolumeMounts,
			SleeperDir)
	}
	assertSecurityContext(t, c)
}

func assertSleeping(t *testing.T, c corev1.Container, name, image, duration string) {
	t.Helper()
	if c.Name != name {
		t.Errorf("container name = %q, want %q", c.Name, name)
	}
	if c.Image != image {
		t.Errorf("container %s image = %q, want %q", name, c.Image, image)
	}
	if !slices.Equal(c.Command, []string{SleeperPath}) {
		t.Errorf("container %s command = %q, want [%s]", name, c.Command, SleeperPath)
	}
	if !slices.Equal(c.Args, []string{duration}) {
		t.Errorf("container %s args = %q, want [%s]", name, c.Args, duration)
	}
	if c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("container %s pull policy = %q, want IfNotPresent", name, c.ImagePullPolicy)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != SleeperDir ||
		!c.VolumeMounts[0].ReadOnly {
		t.Errorf("container %s mounts = %+v, want a read-only mount at %s", name,
			c.VolumeMounts, SleeperDir)
	}
	if got := c.Resources.Limits.Memory().String(); got != "16Mi" {
		t.Errorf("container %s memory limit = %s, want 16Mi", name, got)
	}
	if got := c.Resources.Requests.Cpu().String(); got != "5m" {
		t.Errorf("container %s CPU request = %s, want 5m", name, got)
	}
	assertSecurityContext(t, c)
}

func assertSecurityContext(t *testing.T, c corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil {
		t.Errorf("container %s has no security context", c.Name)
		return
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
		len(sc.Capabilities.Add) != 0 {
		t.Errorf("container %s: capabilities = %+v, want drop ALL", c.Name, sc.Capabilities)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("container %s: readOnlyRootFilesystem is not true", c.Name)
	}
	if sc.RunAsUser != nil || sc.RunAsNonRoot != nil || sc.RunAsGroup != nil {
		t.Errorf("container %s sets the user, which OpenShift's SCC must assign", c.Name)
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Errorf("container %s is privileged", c.Name)
	}
}

func TestDaemonSetPodSettings(t *testing.T) {
	spec := goldenSpec(true)
	ds := DaemonSet(spec)
	pod := ds.Spec.Template.Spec

	if ds.Name != "cache" || ds.Namespace != "imagedist" {
		t.Errorf("name = %s/%s, want imagedist/cache", ds.Namespace, ds.Name)
	}
	if pod.NodeSelector["topology.kubernetes.io/zone"] != "a" || len(pod.NodeSelector) != 2 {
		t.Errorf("nodeSelector = %v", pod.NodeSelector)
	}
	if len(pod.Tolerations) != 1 || pod.Tolerations[0].Key != "dedicated" {
		t.Errorf("tolerations = %+v, want only the spec's", pod.Tolerations)
	}
	if pod.Affinity == nil || pod.Affinity.NodeAffinity == nil {
		t.Errorf("affinity is missing")
	}
	if len(pod.ImagePullSecrets) != 2 || pod.ImagePullSecrets[0].Name != "quay-team" ||
		pod.ImagePullSecrets[1].Name != "mirror" {
		t.Errorf("imagePullSecrets = %+v, want quay-team then mirror", pod.ImagePullSecrets)
	}
	if pod.PriorityClassName != "system-node-critical" {
		t.Errorf("priorityClassName = %q", pod.PriorityClassName)
	}
	if pod.TerminationGracePeriodSeconds == nil || *pod.TerminationGracePeriodSeconds != 1 {
		t.Errorf("terminationGracePeriodSeconds is not 1")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("automountServiceAccountToken is not false")
	}
	if pod.EnableServiceLinks == nil || *pod.EnableServiceLinks {
		t.Errorf("enableServiceLinks is not false")
	}
	if pod.SecurityContext == nil || pod.SecurityContext.SeccompProfile == nil ||
		pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod seccomp profile is not RuntimeDefault")
	}
	if pod.RestartPolicy != corev1.RestartPolicyAlways {
		t.Errorf("restartPolicy = %q, want Always", pod.RestartPolicy)
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Errorf("pod uses a host namespace")
	}

	if len(pod.Volumes) != 1 || pod.Volumes[0].EmptyDir == nil ||
		pod.Volumes[0].EmptyDir.SizeLimit.String() != "16Mi" {
		t.Errorf("volumes = %+v, want one 16Mi emptyDir", pod.Volumes)
	}

	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType {
		t.Errorf("update strategy = %q, want RollingUpdate", ds.Spec.UpdateStrategy.Type)
	}
	if got := ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable.String(); got != "3" {
		t.Errorf("maxUnavailable = %s, want 3", got)
	}
	if ds.Spec.RevisionHistoryLimit == nil || *ds.Spec.RevisionHistoryLimit != 2 {
		t.Errorf("revisionHistoryLimit is not 2")
	}
}

func TestDaemonSetDefaults(t *testing.T) {
	ds := DaemonSet(Spec{Name: "x", Namespace: "y", KeepCached: false})
	pod := ds.Spec.Template.Spec

	if got := ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable.String(); got != "25%" {
		t.Errorf("maxUnavailable = %s, want 25%%", got)
	}
	if pod.InitContainers[0].Image != DefaultHelperImage {
		t.Errorf("sleeper image = %q, want %q", pod.InitContainers[0].Image,
			DefaultHelperImage)
	}
	if pod.Containers[0].Image != DefaultHelperImage {
		t.Errorf("wait image = %q, want %q", pod.Containers[0].Image, DefaultHelperImage)
	}
	if pod.NodeSelector != nil || pod.Tolerations != nil || pod.Affinity != nil ||
		pod.ImagePullSecrets != nil {
		t.Errorf("unset scheduling fields are not empty: %+v", pod)
	}

	percent := DaemonSet(Spec{MaxUnavailable: intstr.FromString("10%")})
	if got := percent.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable.String(); got != "10%" {
		t.Errorf("maxUnavailable = %s, want 10%%", got)
	}
}

func TestDaemonSetSharesNoMemory(t *testing.T) {
	spec := goldenSpec(true)
	ds := DaemonSet(spec)
	pod := &ds.Spec.Template.Spec

	pod.NodeSelector["topology.kubernetes.io/zone"] = "changed"
	pod.Tolerations[0].Value = "changed"
	pod.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.
		NodeSelectorTerms[0].MatchExpressions[0].Values[0] = "changed"
	pod.Containers[0].Resources.Limits[corev1.ResourceMemory] = resource.MustParse("1Gi")
	ds.Labels["team"] = "changed"

	if spec.NodeSelector["topology.kubernetes.io/zone"] != "a" {
		t.Errorf("changing the nodeSelector changed the spec")
	}
	if spec.Tolerations[0].Value != "build" {
		t.Errorf("changing a toleration changed the spec")
	}
	if spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.
		NodeSelectorTerms[0].MatchExpressions[0].Values[0] != "amd64" {
		t.Errorf("changing the affinity changed the spec")
	}
	if got := spec.Resources.Limits.Memory().String(); got != "16Mi" {
		t.Errorf("changing a container's resources changed the spec: %s", got)
	}
	if pod.Containers[1].Resources.Limits.Memory().String() != "16Mi" {
		t.Errorf("containers share one resource list")
	}
	if spec.Labels["team"] != "platform" {
		t.Errorf("changing the labels changed the spec")
	}
}
