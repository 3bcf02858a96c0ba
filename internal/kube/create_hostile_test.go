package kube

import (
	"context"
	"errors"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestMatchesSentRejectsForeignObject checks that objects which the create request cannot
// have written are not taken for its result, even though they contain every sent field.
func TestMatchesSentRejectsForeignObject(t *testing.T) {
	owned := sentSecret()
	owned.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap",
		Name: "owner", UID: "5678"}}
	immutable := sentSecret()
	immutable.Immutable = new(bool)
	*immutable.Immutable = true
	deleting := sentSecret()
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	deleting.Finalizers = []string{"example.com/hold"}
	otherType := sentSecret()
	otherType.Type = corev1.SecretTypeOpaque

	cases := map[string]*corev1.Secret{
		"owner reference": owned,
		"immutable":       immutable,
		"being deleted":   deleting,
		"another type":    otherType,
	}
	for name, existing := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := MatchesSent(sentSecret(), existing)
			if err != nil {
				t.Fatalf("MatchesSent error: %v", err)
			}
			if got {
				t.Error("MatchesSent = true, expected an object the request did not write " +
					"to be rejected")
			}
		})
	}
}

func TestMatchesSentLeavesInputs(t *testing.T) {
	sent := sentSecret()
	existing := sentSecret()
	existing.UID = "1234"
	sentCopy, existingCopy := sent.DeepCopy(), existing.DeepCopy()
	if _, err := MatchesSent(sent, existing); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sent, sentCopy) || !reflect.DeepEqual(existing, existingCopy) {
		t.Error("MatchesSent changed its inputs")
	}

	sentObject := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "cm"}, "status": map[string]any{"a": "b"},
	}}
	before := sentObject.DeepCopy()
	if _, err := MatchesSent(sentObject, sentObject.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sentObject, before) {
		t.Error("MatchesSent changed an unstructured input")
	}
}

// TestCreateOnceInterruptedGetFailsBounded checks that reads failing with 500 after an
// interrupted create end within interruptedCheckTimeout and return the create's error.
func TestCreateOnceInterruptedGetFailsBounded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var gets atomic.Int32
	createErr := errors.New("request canceled")
	start := time.Now()
	_, adopted, err := CreateOnce(ctx, sentSecret(),
		func(context.Context) (*corev1.Secret, error) {
			cancel()
			return nil, createErr
		},
		func(ctx context.Context) (*corev1.Secret, error) {
			gets.Add(1)
			return nil, apierrors.NewInternalError(errors.New("etcd unavailable"))
		})
	if adopted || !errors.Is(err, createErr) {
		t.Errorf("CreateOnce = adopted %v, %v, expected the create's error", adopted, err)
	}
	if elapsed := time.Since(start); elapsed > interruptedCheckTimeout {
		t.Errorf("CreateOnce took %v, more than %v", elapsed, interruptedCheckTimeout)
	}
	t.Logf("get was called %d times", gets.Load())
}
