package kube

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestInterrupted(t *testing.T) {
	live := context.Background()
	cancelled, cancel := context.WithCancel(live)
	cancel()
	rejected := apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "x",
		errors.New("denied"))

	tests := []struct {
		name     string
		ctx      context.Context
		err      error
		expected bool
	}{
		{"cancelled transport error", cancelled, context.Canceled, true},
		{"cancelled server rejection", cancelled, rejected, false},
		{"live transport error", live, errors.New("connection reset"), false},
		{"cancelled without error", cancelled, nil, false},
	}
	for _, test := range tests {
		if got := Interrupted(test.ctx, test.err); got != test.expected {
			t.Errorf("%s: Interrupted = %v, expected %v", test.name, got, test.expected)
		}
	}
}

func TestCreateOnceInterruptedWriteLanded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	sent := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pull", Namespace: "apps"},
		Data: map[string][]byte{".dockerconfigjson": []byte(`{"auths":{}}`)}}
	reads := 0
	result, adopted, err := CreateOnce(ctx, sent,
		func(ctx context.Context) (*corev1.Secret, error) {
			cancel()
			return nil, context.Canceled
		},
		func(ctx context.Context) (*corev1.Secret, error) {
			reads++
			if ctx.Err() != nil {
				t.Error("the read after the interrupt got a cancelled context")
			}
			// The server commits the write only after the client went away.
			if reads < 3 {
				return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"},
					"pull")
			}
			stored := sent.DeepCopy()
			stored.ResourceVersion = "7"
			return stored, nil
		})
	if err != nil {
		t.Fatalf("CreateOnce: %v", err)
	}
	if !adopted {
		t.Error("CreateOnce did not report the object as adopted")
	}
	if result == nil || result.ResourceVersion != "7" {
		t.Errorf("CreateOnce returned %v, expected the stored object", result)
	}
	if reads != 3 {
		t.Errorf("read %d times, expected 3", reads)
	}
}

func TestCreateOnceInterruptedOtherObject(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	sent := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pull", Namespace: "apps"},
		Data: map[string][]byte{"key": []byte("ours")}}
	_, adopted, err := CreateOnce(ctx, sent,
		func(ctx context.Context) (*corev1.Secret, error) {
			cancel()
			return nil, context.Canceled
		},
		func(ctx context.Context) (*corev1.Secret, error) {
			other := sent.DeepCopy()
			other.Data["key"] = []byte("theirs")
			return other, nil
		})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("CreateOnce error = %v, expected the cancellation", err)
	}
	if adopted {
		t.Error("CreateOnce adopted an object with other content")
	}
}

func TestCreateOnceInterruptedNothingWritten(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	sent := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pull", Namespace: "apps"}}
	reads := 0
	_, adopted, err := CreateOnce(ctx, sent,
		func(ctx context.Context) (*corev1.Secret, error) {
			cancel()
			return nil, context.Canceled
		},
		func(ctx context.Context) (*corev1.Secret, error) {
			reads++
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, "pull")
		})
	if !errors.Is(err, context.Canceled) || adopted {
		t.Errorf("CreateOnce = adopted %v, error %v; expected the cancellation", adopted, err)
	}
	if reads < 2 {
		t.Errorf("read %d times, expected the reads to go on while the write may land", reads)
	}
}
