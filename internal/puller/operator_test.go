package puller

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// testKIPImage is a kubernetes-image-puller image, the kind of helper image that the
// operator backend takes.
const testKIPImage = "registry.example.com/mirror/kubernetes-image-puller:1.1.2"

// operatorGoldenSpec returns goldenSpec with a kubernetes-image-puller helper image.
func operatorGoldenSpec() Spec {
	spec := goldenSpec(true)
	spec.HelperImage = testKIPImage
	return spec
}

// operatorSpec returns operatorGoldenSpec without the fields that a KubernetesImagePuller
// cannot express, and with image keys equal to container names, so that it survives a
// round trip.
func operatorSpec() Spec {
	spec := operatorGoldenSpec()
	spec.PriorityClassName = ""
	spec.MaxUnavailable = intstr.IntOrString{}
	for i := range spec.Images {
		spec.Images[i].Key = spec.Images[i].Container
	}
	return spec
}

func TestKubernetesImagePullerGolden(t *testing.T) {
	tests := []struct {
		file     string
		spec     Spec
		interval int
	}{
		{"kubernetesimagepuller-full.json", operatorGoldenSpec(), 6},
		{"kubernetesimagepuller-minimal.json", Spec{
			Name:      "minimal",
			Namespace: "default",
			Images:    []Image{{Key: "web", Reference: "nginx:1.27", Container: "web"}},
		}, 1},
	}

	for _, test := range tests {
		t.Run(test.file, func(t *testing.T) {
			object := KubernetesImagePuller(test.spec, test.interval)
			got, err := json.MarshalIndent(object.Object, "", "  ")
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
				t.Errorf("KubernetesImagePuller differs from %s (run with -update to "+
					"accept):\n%s", path, got)
			}
		})
	}
}

func TestKubernetesImagePullerFields(t *testing.T) {
	spec := operatorGoldenSpec()
	object := KubernetesImagePuller(spec, 6)

	if got := object.GetAPIVersion(); got != "che.eclipse.org/v1alpha1" {
		t.Errorf("apiVersion = %q, want che.eclipse.org/v1alpha1", got)
	}
	if got := object.GetKind(); got != "KubernetesImagePuller" {
		t.Errorf("kind = %q, want KubernetesImagePuller", got)
	}
	if object.GetName() != "cache" || object.GetNamespace() != "imagedist" {
		t.Errorf("name = %s/%s, want imagedist/cache", object.GetNamespace(),
			object.GetName())
	}

	// goldenSpec sorts its images by key, and "Static_Bin" sorts before "api".
	want := map[string]string{
		"images": "static-bin=quay.io/team/static@" + testDigest +
			";api=quay.io/team/api:3.8.2",
		"nodeSelector": `{"node-role.kubernetes.io/worker":"","topology.kubernetes.io/zone":"a"}`,
		"affinity": `{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":` +
			`{"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubernetes.io/arch",` +
			`"operator":"In","values":["amd64","arm64"]}]}]}}}`,
		"tolerations":          `[{"key":"dedicated","operator":"Equal","value":"build","effect":"NoSchedule"}]`,
		"imagePullSecrets":     "quay-team;mirror",
		"cachingCPURequest":    "5m",
		"cachingMemoryRequest": "8Mi",
		"cachingMemoryLimit":   "16Mi",
		"cachingIntervalHours": "6",
		"daemonsetName":        "cache",
		"configMapName":        "cache",
		"deploymentName":       "cache",
		"imagePullerImage":     testKIPImage,
	}
	fields, _, err := unstructured.NestedMap(object.Object, "spec")
	if err != nil {
		t.Fatalf("spec: %v", err)
	}
	for field, value := range want {
		if fields[field] != value {
			t.Errorf("spec.%s = %#v, want %q", field, fields[field], value)
		}
	}
	for field, value := range fields {
		if _, ok := want[field]; !ok {
			t.Errorf("unexpected spec.%s = %#v", field, value)
		}
	}

	assertLabels(t, "metadata.labels", object.GetLabels(), map[string]string{
		"team":         "platform",
		LabelName:      "imagedist-image-puller",
		LabelInstance:  "cache",
		LabelManagedBy: "terraform-provider-imagedist",
	})
}

func TestKubernetesImagePullerUnsetFields(t *testing.T) {
	object := KubernetesImagePuller(Spec{
		Name:      "minimal",
		Namespace: "default",
		Images:    []Image{{Key: "web", Reference: "nginx:1.27", Container: "web"}},
		// An empty affinity sets no rule, so it renders as unset.
		Affinity: &corev1.Affinity{},
	}, 1)

	fields, _, _ := unstructured.NestedMap(object.Object, "spec")
	for field, want := range map[string]string{
		"nodeSelector":     "{}",
		"affinity":         "{}",
		"tolerations":      "[]",
		"imagePullSecrets": "",
	} {
		if fields[field] != want {
			t.Errorf("spec.%s = %#v, want %q", field, fields[field], want)
		}
	}
	for _, field := range []string{"cachingCPURequest", "cachingCPULimit",
		"cachingMemoryRequest", "cachingMemoryLimit", "imagePullerImage"} {
		if value, ok := fields[field]; ok {
			t.Errorf("spec.%s = %#v, want it omitted", field, value)
		}
	}
}

func TestKubernetesImagePullerIntervalBelowOne(t *testing.T) {
	for _, interval := range []int{0, -3} {
		object := KubernetesImagePuller(operatorSpec(), interval)
		value, found, _ := unstructured.NestedString(object.Object, "spec",
			"cachingIntervalHours")
		if found {
			t.Errorf("interval %d: spec.cachingIntervalHours = %q, want it omitted",
				interval, value)
		}

		parsed, err := ParseKubernetesImagePuller(object)
		if err != nil {
			t.Fatalf("ParseKubernetesImagePuller: %v", err)
		}
		if parsed.CachingIntervalHours != 0 {
			t.Errorf("interval %d: CachingIntervalHours = %d, want 0", interval,
				parsed.CachingIntervalHours)
		}
	}
}

func TestKubernetesImagePullerRoundTrip(t *testing.T) {
	specs := map[string]Spec{
		"full": operatorSpec(),
		"minimal": {
			Name:       "minimal",
			Namespace:  "default",
			Images:     []Image{{Key: "web", Reference: "nginx:1.27", Container: "web"}},
			KeepCached: true,
		},
	}

	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			object := KubernetesImagePuller(spec, 12)

			// Through JSON, as the object comes back from the API server.
			encoded, err := json.Marshal(object.Object)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			stored := &unstructured.Unstructured{}
			if err := stored.UnmarshalJSON(encoded); err != nil {
				t.Fatalf("unmarshal: %v", err)
			}

			got, err := ParseKubernetesImagePuller(stored)
			if err != nil {
				t.Fatalf("ParseKubernetesImagePuller: %v", err)
			}
			if got.CachingIntervalHours != 12 {
				t.Errorf("CachingIntervalHours = %d, want 12", got.CachingIntervalHours)
			}
			if !equality.Semantic.DeepEqual(got.Spec, spec) {
				t.Errorf("parsed spec differs:\n got %+v\nwant %+v", got.Spec, spec)
			}
		})
	}
}

// puller returns a KubernetesImagePuller named cache in namespace team with spec fields.
func puller(fields map[string]any) *unstructured.Unstructured {
	object := map[string]any{
		"apiVersion": "che.eclipse.org/v1alpha1",
		"kind":       "KubernetesImagePuller",
		"metadata":   map[string]any{"name": "cache", "namespace": "team"},
	}
	if fields != nil {
		object["spec"] = fields
	}
	return &unstructured.Unstructured{Object: object}
}

func TestParseKubernetesImagePuller(t *testing.T) {
	tests := []struct {
		name   string
		fields map[string]any
		check  func(t *testing.T, got OperatorSpec)
	}{
		{"no spec", nil, func(t *testing.T, got OperatorSpec) {
			if len(got.Images) != 0 || got.CachingIntervalHours != 0 || got.Affinity != nil {
				t.Errorf("got %+v, want an empty spec", got)
			}
			if !got.KeepCached {
				t.Errorf("KeepCached = false, want true")
			}
		}},
		{"images trimmed, trailing separator", map[string]any{
			"images": "  a=quay.io/x/a:1 ; b=quay.io/x/b@" + testDigest + ";\n",
		}, func(t *testing.T, got OperatorSpec) {
			want := []Image{
				{Key: "a", Container: "a", Reference: "quay.io/x/a:1"},
				{Key: "b", Container: "b", Reference: "quay.io/x/b@" + testDigest},
			}
			if !equality.Semantic.DeepEqual(got.Images, want) {
				t.Errorf("Images = %+v, want %+v", got.Images, want)
			}
		}},
		{"images keep field order", map[string]any{
			"images": "zeta=z:1;alpha=a:1",
		}, func(t *testing.T, got OperatorSpec) {
			if len(got.Images) != 2 || got.Images[0].Key != "zeta" ||
				got.Images[1].Key != "alpha" {
				t.Errorf("Images = %+v, want zeta then alpha", got.Images)
			}
		}},
		{"operator defaults", map[string]any{
			"images":               "che-code=quay.io/che-incubator/che-code:next",
			"cachingIntervalHours": "1",
			"cachingMemoryRequest": "10Mi",
			"cachingMemoryLimit":   "20Mi",
			"cachingCPURequest":    ".05",
			"cachingCPULimit":      ".2",
			"nodeSelector":         "{}",
			"affinity":             "{}",
			"tolerations":          "[]",
			"imagePullSecrets":     "",
			"configMapName":        "k8s-image-puller",
			"deploymentName":       "kubernetes-image-puller",
		}, func(t *testing.T, got OperatorSpec) {
			if got.NodeSelector != nil || got.Affinity != nil || got.Tolerations != nil ||
				got.ImagePullSecrets != nil {
				t.Errorf("got %+v, want no selector, affinity, tolerations or secrets", got)
			}
			if got.CachingIntervalHours != 1 {
				t.Errorf("CachingIntervalHours = %d, want 1", got.CachingIntervalHours)
			}
			want := corev1.ResourceRequirements{
				Requests: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("50m"),
					corev1.ResourceMemory: resource.MustParse("10Mi"),
				},
				Limits: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("200m"),
					corev1.ResourceMemory: resource.MustParse("20Mi"),
				},
			}
			if !equality.Semantic.DeepEqual(got.Resources, want) {
				t.Errorf("Resources = %v, want %v", got.Resources, want)
			}
		}},
		{"pull secrets drop empty items", map[string]any{
			"imagePullSecrets": "a;; b ;",
		}, func(t *testing.T, got OperatorSpec) {
			if strings.Join(got.ImagePullSecrets, ",") != "a,b" {
				t.Errorf("ImagePullSecrets = %q, want [a b]", got.ImagePullSecrets)
			}
		}},
		{"selector, affinity, tolerations", map[string]any{
			"nodeSelector": `{"disk":"ssd"}`,
			"affinity":     `{"nodeAffinity":{}}`,
			"tolerations":  `[{"operator":"Exists"}]`,
		}, func(t *testing.T, got OperatorSpec) {
			if got.NodeSelector["disk"] != "ssd" || len(got.NodeSelector) != 1 {
				t.Errorf("NodeSelector = %v, want disk=ssd", got.NodeSelector)
			}
			if got.Affinity == nil || got.Affinity.NodeAffinity == nil {
				t.Errorf("Affinity = %+v, want a node affinity", got.Affinity)
			}
			if len(got.Tolerations) != 1 ||
				got.Tolerations[0].Operator != corev1.TolerationOpExists {
				t.Errorf("Tolerations = %+v, want one Exists", got.Tolerations)
			}
		}},
		{"helper image", map[string]any{
			"imagePullerImage": "quay.io/eclipse/kubernetes-image-puller:1.2.0",
		}, func(t *testing.T, got OperatorSpec) {
			if got.HelperImage != "quay.io/eclipse/kubernetes-image-puller:1.2.0" {
				t.Errorf("HelperImage = %q", got.HelperImage)
			}
		}},
	}

	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := ParseKubernetesImagePuller(puller(test.fields))
			if err != nil {
				t.Fatalf("ParseKubernetesImagePuller: %v", err)
			}
			if got.Name != "cache" || got.Namespace != "team" {
				t.Errorf("name = %s/%s, want team/cache", got.Namespace, got.Name)
			}
			test.check(t, got)
		})
	}
}

func TestParseKubernetesImagePullerLabels(t *testing.T) {
	object := puller(nil)
	object.SetLabels(map[string]string{
		"team":         "platform",
		LabelName:      "imagedist-image-puller",
		LabelInstance:  "cache",
		LabelManagedBy: "terraform-provider-imagedist",
	})
	got, err := ParseKubernetesImagePuller(object)
	if err != nil {
		t.Fatalf("ParseKubernetesImagePuller: %v", err)
	}
	assertLabels(t, "Labels", got.Labels, map[string]string{"team": "platform"})

	object.SetLabels(map[string]string{LabelName: "imagedist-image-puller"})
	got, err = ParseKubernetesImagePuller(object)
	if err != nil {
		t.Fatalf("ParseKubernetesImagePuller: %v", err)
	}
	if got.Labels != nil {
		t.Errorf("Labels = %v, want nil when only the puller's labels are set", got.Labels)
	}
}

func TestParseKubernetesImagePullerErrors(t *testing.T) {
	tests := []struct {
		name   string
		fields map[string]any
		// want are substrings of the error: the field and the offending value.
		want []string
	}{
		{"entry without =", map[string]any{"images": "a=x:1;quay.io/b:1"},
			[]string{"spec.images", "entry 2", `"quay.io/b:1"`}},
		{"entry with two =", map[string]any{"images": "a=x:1=2"},
			[]string{"spec.images", "entry 1", `"a=x:1=2"`}},
		{"empty entry", map[string]any{"images": "a=x:1;;b=y:1"},
			[]string{"spec.images", "entry 2"}},
		{"empty name", map[string]any{"images": "=x:1"},
			[]string{"spec.images", `"=x:1"`}},
		{"empty image", map[string]any{"images": "a="},
			[]string{"spec.images", `"a="`}},
		{"repeated name", map[string]any{"images": "a=x:1;a=y:1"},
			[]string{"spec.images", `"a"`, "more than once"}},
		{"node selector", map[string]any{"nodeSelector": "disk=ssd"},
			[]string{"spec.nodeSelector", "invalid JSON", `"disk=ssd"`}},
		{"node selector not strings", map[string]any{"nodeSelector": `{"a":1}`},
			[]string{"spec.nodeSelector"}},
		{"affinity", map[string]any{"affinity": "{"},
			[]string{"spec.affinity", "invalid JSON"}},
		{"tolerations object", map[string]any{"tolerations": "{}"},
			[]string{"spec.tolerations", "invalid JSON"}},
		{"cpu request", map[string]any{"cachingCPURequest": "lots"},
			[]string{"spec.cachingCPURequest", `"lots"`}},
		{"cpu limit", map[string]any{"cachingCPULimit": "1x"},
			[]string{"spec.cachingCPULimit"}},
		{"memory request", map[string]any{"cachingMemoryRequest": "ten"},
			[]string{"spec.cachingMemoryRequest"}},
		{"memory limit", map[string]any{"cachingMemoryLimit": "20 MB"},
			[]string{"spec.cachingMemoryLimit"}},
		{"interval text", map[string]any{"cachingIntervalHours": "hourly"},
			[]string{"spec.cachingIntervalHours", `"hourly"`}},
		{"interval zero", map[string]any{"cachingIntervalHours": "0"},
			[]string{"spec.cachingIntervalHours", `"0"`}},
		{"interval fraction", map[string]any{"cachingIntervalHours": "1.5"},
			[]string{"spec.cachingIntervalHours"}},
		{"field not a string", map[string]any{"cachingIntervalHours": int64(1)},
			[]string{"spec.cachingIntervalHours", "int64", "expected a string"}},
	}

	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			_, err := ParseKubernetesImagePuller(puller(test.fields))
			if err == nil {
				t.Fatalf("ParseKubernetesImagePuller succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), "KubernetesImagePuller team/cache: ") {
				t.Errorf("error %q does not start with the object's name", err)
			}
			for _, want := range test.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestParseKubernetesImagePullerSpecNotObject(t *testing.T) {
	object := puller(nil)
	object.Object["spec"] = "images=a"
	_, err := ParseKubernetesImagePuller(object)
	if err == nil || !strings.Contains(err.Error(), "spec is not an object") {
		t.Errorf("error = %v, want one saying spec is not an object", err)
	}
}

func TestOperatorProblems(t *testing.T) {
	tests := []struct {
		name  string
		image Image
		want  string // summary of the one expected problem, "" for none
	}{
		{"plain tag", Image{Key: "api", Container: "api", Reference: "quay.io/a/api:1"}, ""},
		{"digest", Image{Key: "d", Container: "d", Reference: "quay.io/a/d@" + testDigest},
			""},
		{"semicolon", Image{Key: "api", Container: "api", Reference: "quay.io/a;b:1"},
			"Image Reference Not Expressible"},
		{"equals sign", Image{Key: "api", Container: "api", Reference: "quay.io/a=b:1"},
			"Image Reference Not Expressible"},
		{"copy-sleep", Image{Key: "Copy_Sleep", Container: "copy-sleep",
			Reference: "quay.io/a/b:1"}, "Reserved Image Key"},
	}

	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			problems := OperatorProblems([]Image{test.image})
			if test.want == "" {
				if len(problems) != 0 {
					t.Errorf("problems = %+v, want none", problems)
				}
				return
			}
			if len(problems) != 1 {
				t.Fatalf("got %d problems (%+v), want 1", len(problems), problems)
			}
			problem := problems[0]
			if problem.Summary != test.want {
				t.Errorf("Summary = %q, want %q", problem.Summary, test.want)
			}
			if problem.Key != test.image.Key {
				t.Errorf("Key = %q, want %q", problem.Key, test.image.Key)
			}
			if problem.Warning {
				t.Errorf("Warning = true, want an error")
			}
			if !strings.Contains(problem.Detail, quote(test.image.Key)) {
				t.Errorf("Detail %q does not name the key", problem.Detail)
			}
		})
	}
}

func TestImagePullerImageWarning(t *testing.T) {
	for _, image := range LegacyImagePullerImages {
		if warning := ImagePullerImageWarning(image); !strings.Contains(warning, image) {
			t.Errorf("ImagePullerImageWarning(%q) = %q, want a warning naming it",
				image, warning)
		}
	}
	for _, image := range []string{"", "quay.io/eclipse/kubernetes-image-puller:1.2.0",
		"registry.example.com/kip:next"} {
		if warning := ImagePullerImageWarning(image); warning != "" {
			t.Errorf("ImagePullerImageWarning(%q) = %q, want none", image, warning)
		}
	}
}
