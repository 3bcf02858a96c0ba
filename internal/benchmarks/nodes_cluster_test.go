package benchmarks

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

// Shape of the seeded fleet. Each node reports 50 images, the kubelet's default cap, and the
// common question names 20 of them.
const (
	fleetImagesPerNode = 50
	fleetSeed          = 1
	imagesOfInterest   = 20
	// seedTimeout bounds starting and seeding one control plane.
	seedTimeout = 20 * time.Minute
)

// nodeCluster is a control plane seeded with generated worker nodes.
type nodeCluster struct {
	cluster *testcluster.Cluster
	client  kubernetes.Interface
	nodes   int
	// images are references to imagesOfInterest images of the fleet, each on some nodes.
	images []string
}

// nodeClusters contains one control plane per node count, started on first use and stopped by
// TestMain.
var nodeClusters = struct {
	sync.Mutex
	started map[int]func() (*nodeCluster, error)
}{started: map[int]func() (*nodeCluster, error){}}

// seededCluster returns the control plane with the given number of nodes, starting and
// seeding it on the first call. A failed start is returned to every later call too.
func seededCluster(nodes int) (*nodeCluster, error) {
	nodeClusters.Lock()
	start, ok := nodeClusters.started[nodes]
	if !ok {
		start = sync.OnceValues(func() (*nodeCluster, error) { return startNodeCluster(nodes) })
		nodeClusters.started[nodes] = start
	}
	nodeClusters.Unlock()
	return start()
}

func startNodeCluster(count int) (*nodeCluster, error) {
	ctx, cancel := context.WithTimeout(context.Background(), seedTimeout)
	defer cancel()

	logProgress("starting a control plane for %d nodes", count)
	cluster, err := testcluster.Start(ctx, testcluster.Options{
		WithoutControllerManager: true,
		SkipCRDs:                 true,
		Logf:                     logProgress,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the control plane: %w", err)
	}
	registerCleanup(cluster.Stop)

	client, err := kubernetes.NewForConfig(cluster.RESTConfig())
	if err != nil {
		return nil, fmt.Errorf("building a client: %w", err)
	}

	started := time.Now()
	generated := testcluster.GenerateNodes(count, fleetImagesPerNode, fleetSeed)
	if err := testcluster.SeedNodes(ctx, client, generated); err != nil {
		return nil, fmt.Errorf("seeding %d nodes: %w", count, err)
	}
	logProgress("seeded %d nodes with %d images each in %s", count, fleetImagesPerNode,
		time.Since(started).Round(time.Second))

	// Only the references are kept, so that the generated fleet does not count towards the
	// memory of the in-process reads.
	return &nodeCluster{
		cluster: cluster,
		client:  client,
		nodes:   count,
		images:  pickImagesOfInterest(generated, imagesOfInterest),
	}, nil
}

// pickImagesOfInterest returns references to count distinct images of the fleet in the order
// they first appear: the tag reference when the image has a tag, else the digest reference.
// Dangling images are skipped because no reference matches them. Most come from the first
// nodes, and GenerateNodes gives each node mostly images that many nodes share.
func pickImagesOfInterest(nodes []testcluster.Node, count int) []string {
	seen := map[string]bool{}
	var references []string
	for _, node := range nodes {
		for _, image := range node.Images {
			if image.Dangling || seen[image.Digest] {
				continue
			}
			seen[image.Digest] = true

			reference := image.Repository + "@" + image.Digest
			if len(image.Tags) > 0 {
				reference = image.Repository + ":" + image.Tags[0]
			}
			references = append(references, reference)
			if len(references) == count {
				return references
			}
		}
	}
	return references
}
