package benchmarks

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/imagedist/terraform-provider-imagedist/internal/nodeimages"
	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

// Metric units that the report reads.
const (
	unitPeakRSS     = "peak-rss-MiB"
	unitAPIRequests = "api-requests"
	// unitRSSBefore is the resident set of the benchmark process before an in-process read.
	unitRSSBefore = "rss-before-MiB"
	// unitProviderPeakRSS is the peak resident set of the largest provider plugin process
	// that terraform ran.
	unitProviderPeakRSS = "provider-peak-rss-MiB"
	// unitStateKiB is the size of the data source's state as the provider encodes it.
	unitStateKiB = "state-KiB"
)

// nodeVariant is one way to answer a question about the node inventory.
type nodeVariant struct {
	name string
	// prepare, when set, runs before each run and outside the request count.
	prepare func() error
	run     variantRun
}

// variantRun does the work of a variant once, with the benchmark timer on only around the
// work itself, and returns the metrics to report by unit.
type variantRun func(b *testing.B) (map[string]float64, error)

// BenchmarkNodeInventory compares the provider's read of imagedist_node_images with a bare
// paginated list of the same nodes and with kubectl, in process and end to end through
// terraform plan, at each node count of IMAGEDIST_BENCH_NODES.
func BenchmarkNodeInventory(b *testing.B) {
	requireBench(b)
	counts, err := benchNodeCounts()
	if err != nil {
		b.Fatal(err)
	}

	for _, count := range counts {
		b.Run(fmt.Sprintf("nodes=%d", count), func(b *testing.B) {
			cluster, err := seededCluster(count)
			if err != nil {
				b.Fatal(err)
			}
			for _, variant := range nodeVariants(cluster) {
				b.Run(variant.name, func(b *testing.B) { runNodeVariant(b, cluster, variant) })
			}
		})
	}
}

// runNodeVariant runs the variant b.N times and reports the largest value of each metric,
// except API requests, which it reports per run.
func runNodeVariant(b *testing.B, cluster *nodeCluster, variant nodeVariant) {
	b.StopTimer()
	ctx := context.Background()
	counter := apiRequestCounter{client: cluster.client, resource: "nodes"}

	peaks := map[string]float64{}
	var requests float64
	for range b.N {
		if variant.prepare != nil {
			if err := variant.prepare(); err != nil {
				b.Fatal(err)
			}
		}
		var metrics map[string]float64
		count, err := counter.count(ctx, func() error {
			var err error
			metrics, err = variant.run(b)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		requests += count
		for unit, value := range metrics {
			peaks[unit] = max(peaks[unit], value)
		}
	}

	for unit, value := range peaks {
		b.ReportMetric(value, unit)
	}
	b.ReportMetric(requests/float64(b.N), unitAPIRequests)
}

// nodeVariants returns the variants in the order they run. References come first.
func nodeVariants(cluster *nodeCluster) []nodeVariant {
	workerSelector := tftypes.NewValue(tftypes.String, testcluster.LabelWorkerRole)
	summaryOnly := tftypes.NewValue(tftypes.Bool, true)

	return []nodeVariant{
		{name: "ref-bare-list", run: inProcess(func(ctx context.Context) (int, error) {
			return bareList(ctx, cluster.client.CoreV1().Nodes())
		})},
		{name: "ref-bare-list-protobuf", run: inProcess(func(ctx context.Context) (int, error) {
			nodes, err := nodeimages.NewNodeClient(cluster.cluster.RESTConfig())
			if err != nil {
				return 0, err
			}
			return bareList(ctx, nodes)
		})},
		kubectlVariant(cluster),
		providerRead("provider-read-summary", cluster, map[string]tftypes.Value{
			"summary_only": summaryOnly,
		}),
		providerRead("provider-read-filtered", cluster, map[string]tftypes.Value{
			"label_selector": workerSelector,
			"images":         stringList(cluster.images),
			"summary_only":   summaryOnly,
		}),
		providerRead("provider-read-full", cluster, nil),
		{name: "terraform-plan-missing", run: func(b *testing.B) (map[string]float64, error) {
			return runTerraformPlan(b, cluster, "missing", missingImagesConfiguration(cluster))
		}},
		{name: "terraform-plan-full", run: func(b *testing.B) (map[string]float64, error) {
			return runTerraformPlan(b, cluster, "full", fullInventoryConfiguration(cluster))
		}},
		{name: "terraform-plan-no-nodes", run: func(b *testing.B) (map[string]float64, error) {
			return runTerraformPlan(b, cluster, "no-nodes", noNodesConfiguration(cluster))
		}},
	}
}

// inProcess returns a variant run that times read in this process and measures the
// process's resident set around it. read returns a size in bytes to report as unitStateKiB,
// or zero to report none.
func inProcess(read func(ctx context.Context) (int, error)) variantRun {
	return func(b *testing.B) (map[string]float64, error) {
		var size int
		memory, err := measureSelfMemory(func() error {
			b.StartTimer()
			defer b.StopTimer()
			var err error
			size, err = read(context.Background())
			return err
		})
		if err != nil {
			return nil, err
		}

		metrics := map[string]float64{unitPeakRSS: memory.peakMiB, unitRSSBefore: memory.beforeMiB}
		if size > 0 {
			metrics[unitStateKiB] = float64(size) / 1024
		}
		return metrics, nil
	}
}

// bareList pages through all nodes and keeps nothing: the least work that reads every node.
// It returns zero, because it has no state to report.
func bareList(ctx context.Context, nodes corev1client.NodeInterface) (int, error) {
	options := metav1.ListOptions{Limit: nodeimages.DefaultPageSize}
	for {
		page, err := nodes.List(ctx, options)
		if err != nil {
			return 0, fmt.Errorf("listing nodes: %w", err)
		}
		if page.Continue == "" {
			return 0, nil
		}
		options.Continue = page.Continue
	}
}

// providerRead returns a variant that reads imagedist_node_images through the provider
// server with the given attributes. The provider is configured before the run.
func providerRead(
	name string, cluster *nodeCluster, attributes map[string]tftypes.Value,
) nodeVariant {
	var reader *protocolReader
	return nodeVariant{
		name: name,
		prepare: func() error {
			var err error
			reader, err = newProtocolReader(context.Background(), cluster.cluster.KubeconfigPath)
			return err
		},
		run: inProcess(func(ctx context.Context) (int, error) {
			return reader.read(ctx, attributes)
		}),
	}
}

// kubectlVariant returns a variant that runs `kubectl get nodes -o json` with its output
// discarded. A `kubectl get node` before each run fills kubectl's discovery cache, as on a
// workstation that used kubectl before.
func kubectlVariant(cluster *nodeCluster) nodeVariant {
	kubeconfig := cluster.cluster.KubeconfigPath
	cacheDir := filepath.Join(cluster.cluster.Dir, "kubectl-cache")
	var kubectl string
	return nodeVariant{
		name: "ref-kubectl",
		prepare: func() error {
			var err error
			if kubectl, err = programPath("kubectl"); err != nil {
				return err
			}
			warmUp := exec.Command(kubectl, "--kubeconfig", kubeconfig, "--cache-dir", cacheDir,
				"get", "node", "node-00000", "-o", "name")
			if output, err := warmUp.CombinedOutput(); err != nil {
				return fmt.Errorf("kubectl get node: %w\n%s", err, output)
			}
			return nil
		},
		run: func(b *testing.B) (map[string]float64, error) {
			cmd := exec.Command(kubectl, "--kubeconfig", kubeconfig, "--cache-dir", cacheDir,
				"get", "nodes", "-o", "json")
			cmd.Stdout = io.Discard
			run, err := runMeasured(b, cmd)
			if err != nil {
				return nil, err
			}
			return map[string]float64{unitPeakRSS: run.maxRSSMiB}, nil
		},
	}
}

// runTerraformPlan runs `terraform plan` on the configuration with its output discarded.
func runTerraformPlan(
	b *testing.B, cluster *nodeCluster, name, configuration string,
) (map[string]float64, error) {
	terraform, err := programPath("terraform")
	if err != nil {
		return nil, err
	}
	dir, environment, err := terraformWorkdir(cluster.cluster.Dir, "terraform-"+name, configuration)
	if err != nil {
		return nil, err
	}

	cmd := exec.Command(terraform, "-chdir="+dir, "plan", "-input=false", "-lock=false", "-no-color")
	cmd.Env = environment
	cmd.Stdout = io.Discard
	run, err := runMeasured(b, cmd)
	if err != nil {
		return nil, err
	}
	// Terraform and its provider plugin run at the same time, so the sum of their peaks is an
	// upper bound of their peak together. ru_maxrss would not do for terraform alone: it
	// includes the provider plugins that terraform waited for.
	return map[string]float64{
		unitPeakRSS:         run.ownPeakMiB + run.descendantsPeakMiB,
		unitProviderPeakRSS: run.descendantsPeakMiB,
	}, nil
}

// providerBlock returns the terraform and provider blocks for the cluster.
func providerBlock(cluster *nodeCluster) string {
	return fmt.Sprintf(`terraform {
  required_providers {
    imagedist = {
      source = "imagedist/imagedist"
    }
  }
}

provider "imagedist" {
  config_path    = %q
  config_context = %q
}
`, cluster.cluster.KubeconfigPath, testcluster.ContextName)
}

// missingImagesConfiguration returns a configuration whose output lists, for each image of
// interest, the workers that lack it.
func missingImagesConfiguration(cluster *nodeCluster) string {
	quoted := make([]string, len(cluster.images))
	for i, image := range cluster.images {
		quoted[i] = fmt.Sprintf("    %q,", image)
	}
	return providerBlock(cluster) + fmt.Sprintf(`
data "imagedist_node_images" "workers" {
  label_selector = %q
  images = [
%s
  ]
  summary_only = true
}

output "missing_on" {
  value = {
    for entry in data.imagedist_node_images.workers.image_nodes :
    entry.reference => entry.missing_on
  }
}
`, testcluster.LabelWorkerRole, strings.Join(quoted, "\n"))
}

// noNodesConfiguration is missingImagesConfiguration for an empty set of node names, for
// which the provider makes no API request. Its plan time is the fixed cost of Terraform
// and its provider plugin processes.
func noNodesConfiguration(cluster *nodeCluster) string {
	configuration := missingImagesConfiguration(cluster)
	selector := fmt.Sprintf("label_selector = %q", testcluster.LabelWorkerRole)
	return strings.Replace(configuration, selector, "names = []", 1)
}

// fullInventoryConfiguration reads every image of every node and sums the cached bytes.
func fullInventoryConfiguration(cluster *nodeCluster) string {
	return providerBlock(cluster) + `
data "imagedist_node_images" "all" {}

output "cached_bytes" {
  value = sum([for node in data.imagedist_node_images.all.nodes : node.total_size_bytes])
}
`
}
