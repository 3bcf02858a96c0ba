package kube

import (
	"context"
	"errors"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func sentSecret() *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "pull", Namespace: "apps",
			Labels: map[string]string{"app": "x"}},
		Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{}}`)},
	}
}

func TestMatchesSent(t *testing.T) {
	stored := sentSecret()
	stored.UID = "1234"
	stored.ResourceVersion = "7"
	stored.CreationTimestamp = metav1.Now()

	changedData := stored.DeepCopy()
	changedData.Data[corev1.DockerConfigJsonKey] = []byte(`{"auths":{"a":{}}}`)
	extraKey := stored.DeepCopy()
	extraKey.Data["other"] = []byte("x")
	otherLabel := stored.DeepCopy()
	otherLabel.Labels["app"] = "y"
	extraLabel := stored.DeepCopy()
	extraLabel.Labels["team"] = "z"

	cases := []struct {
		name     string
		existing *corev1.Secret
		expected bool
	}{
		{"server fields added", stored, true},
		{"extra label", extraLabel, true},
		{"changed data", changedData, false},
		{"extra data key", extraKey, false},
		{"changed label", otherLabel, false},
	}
	for _, tc := range cases {
		got, err := MatchesSent(sentSecret(), tc.existing)
		if err != nil {
			t.Fatalf("%s: MatchesSent error: %v", tc.name, err)
		}
		if got != tc.expected {
			t.Errorf("%s: MatchesSent = %v, expected %v", tc.name, got, tc.expected)
		}
	}
}

func TestMatchesSentDefaultedLists(t *testing.T) {
	sent := &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "i@sha256:1"}}},
	}}}
	defaulted := sent.DeepCopy()
	defaulted.Spec.Template.Spec.Containers[0].ImagePullPolicy = corev1.PullIfNotPresent
	defaulted.Spec.Template.Spec.DNSPolicy = corev1.DNSClusterFirst
	extraContainer := defaulted.DeepCopy()
	extraContainer.Spec.Template.Spec.Containers = append(
		extraContainer.Spec.Template.Spec.Containers, corev1.Container{Name: "b"})

	if got, _ := MatchesSent(sent, defaulted); !got {
		t.Error("MatchesSent rejects an object with server defaults")
	}
	if got, _ := MatchesSent(sent, extraContainer); got {
		t.Error("MatchesSent accepts an object with another container")
	}
}

func TestCreateOnce(t *testing.T) {
	exists := apierrors.NewAlreadyExists(schema.GroupResource{Resource: "secrets"}, "pull")
	stored := sentSecret()
	stored.UID = "1234"
	other := sentSecret()
	other.Data[corev1.DockerConfigJsonKey] = []byte(`{"auths":{"b":{}}}`)

	cases := []struct {
		name        string
		reached     bool
		existing    *corev1.Secret
		wantAdopted bool
	}{
		{"earlier attempt reached, same content", true, stored, true},
		{"earlier attempt reached, other content", true, other, false},
		{"no earlier attempt", false, stored, false},
	}
	for _, tc := range cases {
		create := func(ctx context.Context) (*corev1.Secret, error) {
			if tc.reached {
				record, _ := ctx.Value(attemptRecordKey{}).(*AttemptRecord)
				record.add(true)
			}
			return nil, exists
		}
		get := func(context.Context) (*corev1.Secret, error) { return tc.existing, nil }

		got, adopted, err := CreateOnce(context.Background(), sentSecret(), create, get)
		if adopted != tc.wantAdopted {
			t.Errorf("%s: adopted = %v, expected %v", tc.name, adopted, tc.wantAdopted)
		}
		if tc.wantAdopted && (err != nil || got != tc.existing) {
			t.Errorf("%s: CreateOnce = %v, %v, expected the existing object", tc.name, got, err)
		}
		if !tc.wantAdopted && !errors.Is(err, exists) {
			t.Errorf("%s: error = %v, expected AlreadyExists", tc.name, err)
		}
	}
}

func TestMatchesSentNumberTypes(t *testing.T) {
	sent := &unstructured.Unstructured{Object: map[string]any{
		"kind": "KubeletConfig", "spec": map[string]any{"percent": 90},
	}}
	stored := &unstructured.Unstructured{Object: map[string]any{
		"kind": "KubeletConfig", "spec": map[string]any{"percent": int64(90)},
		"status": map[string]any{"conditions": []any{}},
	}}
	if got, err := MatchesSent(sent, stored); err != nil || !got {
		t.Errorf("MatchesSent = %v, %v, expected an int and an int64 of 90 to match", got, err)
	}
}

func TestMatchesSentIgnoresStatusAndKind(t *testing.T) {
	sent := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "puller"}}
	sent.Kind = "DaemonSet"
	stored := sent.DeepCopy()
	// Typed clients return objects without their kind.
	stored.Kind = ""
	stored.Status.DesiredNumberScheduled = 4
	stored.Status.NumberReady = 2

	if got, err := MatchesSent(sent, stored); err != nil || !got {
		t.Errorf("MatchesSent = %v, %v, expected a status from the controller to be ignored",
			got, err)
	}
}
