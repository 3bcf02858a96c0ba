package nodeimages

import (
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

// benchmarkFleet is 5,000 nodes with 50 images each, built once per test binary.
var benchmarkFleet = sync.OnceValue(func() []*corev1.Node {
	generated := testcluster.GenerateNodes(5000, 50, 1)
	nodes := make([]*corev1.Node, len(generated))
	for i, node := range generated {
		nodes[i] = node.Object()
	}
	return nodes
})

// benchmarkImages returns references to three images of the fleet: the first digest name and
// first tag name found, and one that no node has.
func benchmarkImages(nodes []*corev1.Node) []string {
	var digest, tag string
	for _, node := range nodes {
		for _, image := range node.Status.Images {
			for _, name := range image.Names {
				_, kind, err := imageref.ParseNodeImageName(name)
				switch {
				case err != nil:
				case digest == "" && kind == imageref.NodeImageDigest:
					digest = name
				case tag == "" && kind == imageref.NodeImageTag:
					tag = name
				}
			}
		}
	}
	return []string{digest, tag, "quay.io/absent/image:v1"}
}

func benchmarkInventory(b *testing.B, options Options) {
	nodes := benchmarkFleet()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		inventory, err := New(options)
		if err != nil {
			b.Fatal(err)
		}
		for _, node := range nodes {
			inventory.Add(node)
		}
		_ = inventory.Nodes()
		_ = inventory.ImageNodes()
	}
}

// BenchmarkInventoryFull builds the full inventory of 5,000 nodes with 50 images each.
func BenchmarkInventoryFull(b *testing.B) {
	benchmarkInventory(b, Options{NodeStatusMaxImages: DefaultNodeStatusMaxImages})
}

// BenchmarkInventorySummary builds the counts only.
func BenchmarkInventorySummary(b *testing.B) {
	benchmarkInventory(b, Options{
		SummaryOnly:         true,
		NodeStatusMaxImages: DefaultNodeStatusMaxImages,
	})
}

// BenchmarkInventoryImagesOfInterest builds the view for three requested images.
func BenchmarkInventoryImagesOfInterest(b *testing.B) {
	benchmarkInventory(b, Options{
		Images:              benchmarkImages(benchmarkFleet()),
		NodeStatusMaxImages: DefaultNodeStatusMaxImages,
	})
}
