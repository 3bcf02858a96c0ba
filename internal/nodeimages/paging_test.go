package nodeimages

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
// read must stop rather than add the same nodes until the context ends.
func TestReadAllRepeatedContinueToken(t *testing.T) {
	client := fake.NewClientset()
	pages := 0
	client.PrependReactor("list", "nodes", func(clienttesting.Action) (bool, runtime.Object,
		error) {
		pages++
		return true, &corev1.NodeList{
			ListMeta: metav1.ListMeta{Continue: "again"},
			Items:    []corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "worker-0"}}},
		}, nil
	})
	reader := &Reader{Nodes: client.CoreV1().Nodes()}

	err := reader.ReadAll(context.Background(), "", newInventory(t, Options{}))
	if !errors.Is(err, paging.ErrRepeatedToken) {
		t.Errorf("ReadAll = %v, expected the repeated continue token", err)
	}
	if pages != 2 {
		t.Errorf("read %d pages, expected 2", pages)
	}
}
