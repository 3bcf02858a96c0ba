package pullevents

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/imagedist/terraform-provider-imagedist/internal/paging"
)

// A server that ignores the continue parameter returns the same token on every page, so the
// read must stop rather than count the same events until the context ends.
func TestReadRepeatedContinueToken(t *testing.T) {
	client := fake.NewClientset()
	pages := 0
	client.PrependReactor("list", "events", func(clienttesting.Action) (bool, runtime.Object,
		error) {
		pages++
		return true, &corev1.EventList{ListMeta: metav1.ListMeta{Continue: "again"}}, nil
	})
	aggregator, err := NewAggregator(Options{})
	if err != nil {
		t.Fatal(err)
	}

	err = Read(context.Background(), client.CoreV1(), "apps", aggregator, nil)
	if !errors.Is(err, paging.ErrRepeatedToken) {
		t.Errorf("Read = %v, expected the repeated continue token", err)
	}
	if pages != 2 {
		t.Errorf("read %d pages, expected 2", pages)
	}
}
