package provider

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

const nodeImagesAddress = "data.imagedist_node_images.test"

// nodeImagesSuiteLabel marks the nodes that one test seeded, so a label selector reads only
// them while other tests add nodes of their own.
const nodeImagesSuiteLabel = "imagedist.test/suite"

// Digests of the test fleet's images.
var (
	fleetNginxDigest = "sha256:" + strings.Repeat("a1", 32)
	fleetAppDigest   = "sha256:" + strings.Repeat("b2", 32)
)

// Images of the test fleet.
var (
	fleetNginx = testcluster.Image{
		Repository: "docker.io/library/nginx", Tags: []string{"1.27"}, Digest: fleetNginxDigest,
		CompressedSize: 70 << 20, UncompressedSize: 190 << 20,
	}
	// fleetApp was pulled by digest, so it has no tag name.
	fleetApp = testcluster.Image{
		Repository: "quay.io/imagedist-test/app", Digest: fleetAppDigest,
		CompressedSize: 40 << 20, UncompressedSize: 100 << 20,
	}
	fleetIngress = testcluster.Image{
		Repository: "docker.io/library/nginx-ingress", Tags: []string{"1.27"},
		Digest:         "sha256:" + strings.Repeat("c3", 32),
		CompressedSize: 90 << 20, UncompressedSize: 250 << 20,
	}
	fleetLookalike = testcluster.Image{
		Repository: "docker.io/library/mynginx", Tags: []string{"1.27"},
		Digest:         "sha256:" + strings.Repeat("d4", 32),
		CompressedSize: 30 << 20, UncompressedSize: 80 << 20,
	}
	fleetDangling = testcluster.Image{
		Repository: "quay.io/imagedist-test/old", Tags: []string{"1"},
		Digest:         "sha256:" + strings.Repeat("e5", 32),
		CompressedSize: 20 << 20, UncompressedSize: 50 << 20, Dangling: true,
	}
)

// nodeImagesFleet is a set of seeded nodes sharing one suite label value.
type nodeImagesFleet struct {
	suite string
}

// node returns the full name of the fleet node with the given letter.
func (f nodeImagesFleet) node(letter string) string {
	return f.suite + "-" + letter
}

func (f nodeImagesFleet) selector() string {
	return nodeImagesSuiteLabel + "=" + f.suite
}

// seedNodeImagesFleet creates five nodes for one test and deletes them when it ends:
//
//	a  CRI-O       nginx:1.27, app (digest only), a dangling image
//	b  containerd  nginx-ingress:1.27, mynginx:1.27, app
//	c  CRI-O       50 large images, so nginx:1.27 falls off its status list
//	d  CRI-O       nginx:1.27
//	e  containerd  no images
func seedNodeImagesFleet(t *testing.T) nodeImagesFleet {
	t.Helper()
	requireAcceptance(t)
	fleet := nodeImagesFleet{suite: acctest.RandomWithPrefix("ni")}
	labels := map[string]string{nodeImagesSuiteLabel: fleet.suite}

	var large []testcluster.Image
	for i := range 50 {
		large = append(large, testcluster.Image{
			Repository:     fmt.Sprintf("quay.io/imagedist-test/large-%02d", i),
			Tags:           []string{"v1"},
			Digest:         fmt.Sprintf("sha256:%064x", i+1),
			CompressedSize: int64(500+i) << 20, UncompressedSize: int64(1200+i) << 20,
		})
	}

	nodes := []testcluster.Node{
		{Name: fleet.node("a"), Labels: labels, Runtime: testcluster.CRIO,
			Images: []testcluster.Image{fleetNginx, fleetApp, fleetDangling}},
		{Name: fleet.node("b"), Labels: labels, Runtime: testcluster.Containerd,
			Images: []testcluster.Image{fleetIngress, fleetLookalike, fleetApp}},
		{Name: fleet.node("c"), Labels: labels, Runtime: testcluster.CRIO,
			Images: append(large, fleetNginx)},
		{Name: fleet.node("d"), Labels: labels, Runtime: testcluster.CRIO,
			Images: []testcluster.Image{fleetNginx}},
		{Name: fleet.node("e"), Labels: labels, Runtime: testcluster.Containerd},
	}

	client := nodeImagesClient(t)
	ctx := context.Background()
	if err := testcluster.SeedNodes(ctx, client, nodes); err != nil {
		t.Fatalf("seeding nodes: %v", err)
	}
	t.Cleanup(func() {
		for _, node := range nodes {
			err := client.CoreV1().Nodes().Delete(ctx, node.Name, metav1.DeleteOptions{})
			if err != nil {
				t.Errorf("deleting node %s: %v", node.Name, err)
			}
		}
	})
	return fleet
}

func nodeImagesClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	client, err := testcluster.ClientFromEnv()
	if err != nil {
		t.Fatalf("cluster client: %v", err)
	}
	return client
}

func TestAccNodeImagesAllNodes(t *testing.T) {
	seedNodeImagesFleet(t)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: `data "imagedist_node_images" "test" {}`,
				Check:  checkNodeImagesMatchAPI(t, ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("page_size"), knownvalue.Int64Exact(500)),
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("node_status_max_images"), knownvalue.Int64Exact(50)),
				},
			},
			{
				// Pages of two nodes read the same nodes in several requests.
				Config: `data "imagedist_node_images" "test" { page_size = 2 }`,
				Check:  checkNodeImagesMatchAPI(t, ""),
			},
		},
	})
}

// checkNodeImagesMatchAPI compares the data source's nodes with a list from the API.
func checkNodeImagesMatchAPI(t *testing.T, selector string) resource.TestCheckFunc {
	return func(state *terraform.State) error {
		list, err := nodeImagesClient(t).CoreV1().Nodes().List(context.Background(),
			metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return fmt.Errorf("listing nodes: %w", err)
		}
		nodes := list.Items
		slices.SortFunc(nodes, func(a, b corev1.Node) int { return strings.Compare(a.Name, b.Name) })

		attributes := state.RootModule().Resources[nodeImagesAddress].Primary.Attributes
		if got := attributes["node_count"]; got != strconv.Itoa(len(nodes)) {
			return fmt.Errorf("node_count = %s, want %d from the API", got, len(nodes))
		}
		for i, node := range nodes {
			prefix := fmt.Sprintf("nodes.%d.", i)
			if got := attributes[prefix+"name"]; got != node.Name {
				return fmt.Errorf("%sname = %q, want %q", prefix, got, node.Name)
			}
			count := strconv.Itoa(len(node.Status.Images))
			if got := attributes[prefix+"image_count"]; got != count {
				return fmt.Errorf("%simage_count = %s, want %s", prefix, got, count)
			}
			sizes, err := imageSizesByReference(node.Status.Images)
			if err != nil {
				return fmt.Errorf("node %s: %w", node.Name, err)
			}
			if got := attributes[prefix+"images.%"]; got != strconv.Itoa(len(sizes)) {
				return fmt.Errorf("%simages.%% = %s, want %d", prefix, got, len(sizes))
			}
			for reference, size := range sizes {
				key := prefix + "images." + reference
				if got := attributes[key]; got != strconv.FormatInt(size, 10) {
					return fmt.Errorf("%s = %q, want %d", key, got, size)
				}
			}
		}
		return nil
	}
}

// imageSizesByReference returns what a node's images map contains: per image with a usable
// name, its first digest name, else its first tag name, normalized, with the size of the
// first image under that reference.
func imageSizesByReference(images []corev1.ContainerImage) (map[string]int64, error) {
	sizes := map[string]int64{}
	for _, image := range images {
		var digest, tag string
		for _, name := range image.Names {
			reference, kind, err := imageref.ParseNodeImageName(name)
			if err != nil {
				return nil, fmt.Errorf("parsing image name %q: %w", name, err)
			}
			switch {
			case kind == imageref.NodeImageDigest && digest == "":
				digest = reference.Identity()
			case kind == imageref.NodeImageTag && tag == "":
				tag = reference.Identity()
			}
		}
		key := cmp.Or(digest, tag)
		if _, seen := sizes[key]; key != "" && !seen {
			sizes[key] = image.SizeBytes
		}
	}
	return sizes, nil
}

func TestAccNodeImagesLabelSelector(t *testing.T) {
	fleet := seedNodeImagesFleet(t)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: fmt.Sprintf(`data "imagedist_node_images" "test" {
  label_selector = %q
}`, fleet.selector()),
				Check: checkNodeImagesMatchAPI(t, fleet.selector()),
				ConfigStateChecks: []statecheck.StateCheck{
					expectNodeNames(fleet.node("a"), fleet.node("b"), fleet.node("c"),
						fleet.node("d"), fleet.node("e")),
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("nodes").AtSliceIndex(0),
						knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"container_runtime": knownvalue.StringExact("cri-o"),
							"container_runtime_version": knownvalue.StringRegexp(
								regexp.MustCompile(`^cri-o://\d`)),
							"image_count":        knownvalue.Int64Exact(3),
							"possibly_truncated": knownvalue.Bool(false),
							"total_size_bytes": knownvalue.Int64Exact(
								fleetNginx.SizeBytes(testcluster.CRIO) +
									fleetApp.SizeBytes(testcluster.CRIO) +
									fleetDangling.SizeBytes(testcluster.CRIO)),
						})),
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("nodes").AtSliceIndex(1).AtMapKey("container_runtime"),
						knownvalue.StringExact("containerd")),
					// Node a's images by reference. The dangling image, which has only
					// placeholder names, counts in image_count and total_size_bytes above
					// but has no key.
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("nodes").AtSliceIndex(0).AtMapKey("images"),
						knownvalue.MapExact(map[string]knownvalue.Check{
							"docker.io/library/nginx@" + fleetNginxDigest: knownvalue.Int64Exact(
								fleetNginx.SizeBytes(testcluster.CRIO)),
							"quay.io/imagedist-test/app@" + fleetAppDigest: knownvalue.Int64Exact(
								fleetApp.SizeBytes(testcluster.CRIO)),
						})),
					// Node b runs containerd, which reports compressed sizes.
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("nodes").AtSliceIndex(1).AtMapKey("images").
							AtMapKey("quay.io/imagedist-test/app@"+fleetAppDigest),
						knownvalue.Int64Exact(fleetApp.SizeBytes(testcluster.Containerd))),
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("nodes").AtSliceIndex(4).AtMapKey("images"),
						knownvalue.MapExact(map[string]knownvalue.Check{})),
				},
			},
			{
				// Pages of two nodes: three requests for five nodes.
				Config: fmt.Sprintf(`data "imagedist_node_images" "test" {
  label_selector = %q
  page_size      = 2
}`, fleet.selector()),
				ConfigStateChecks: []statecheck.StateCheck{
					expectNodeNames(fleet.node("a"), fleet.node("b"), fleet.node("c"),
						fleet.node("d"), fleet.node("e")),
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("page_size"), knownvalue.Int64Exact(2)),
				},
			},
			{
				// A set-based selector and an inverse view over all images of the selection.
				Config: fmt.Sprintf(`data "imagedist_node_images" "test" {
  label_selector = "%s in (%s, unused-value)"
}`, nodeImagesSuiteLabel, fleet.suite),
				ConfigStateChecks: []statecheck.StateCheck{
					expectNodeNames(fleet.node("a"), fleet.node("b"), fleet.node("c"),
						fleet.node("d"), fleet.node("e")),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckTypeSetElemNestedAttrs(nodeImagesAddress, "image_nodes.*",
						map[string]string{
							"reference":  "docker.io/library/nginx@" + fleetNginxDigest,
							"node_count": "2",
							"digests.#":  "1",
							"digests.0":  "docker.io/library/nginx@" + fleetNginxDigest,
							"tags.#":     "1",
							"tags.0":     "docker.io/library/nginx:1.27",
						}),
					resource.TestCheckTypeSetElemNestedAttrs(nodeImagesAddress, "image_nodes.*",
						map[string]string{
							"reference":  "quay.io/imagedist-test/app@" + fleetAppDigest,
							"node_count": "2",
							"digests.#":  "1",
							"tags.#":     "0",
						}),
					resource.TestCheckNoResourceAttr(nodeImagesAddress,
						"image_nodes.0.missing_on.#"),
				),
			},
		},
	})
}

// expectNodeNames checks the names of the nodes, in order.
func expectNodeNames(names ...string) statecheck.StateCheck {
	checks := make([]knownvalue.Check, len(names))
	for i, name := range names {
		checks[i] = knownvalue.ObjectPartial(map[string]knownvalue.Check{
			"name": knownvalue.StringExact(name),
		})
	}
	return statecheck.ExpectKnownValue(nodeImagesAddress, tfjsonpath.New("nodes"),
		knownvalue.ListExact(checks))
}

func TestAccNodeImagesNames(t *testing.T) {
	fleet := seedNodeImagesFleet(t)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: fmt.Sprintf(`data "imagedist_node_images" "test" {
  names = [%q, %q]
}`, fleet.node("d"), fleet.node("a")),
				ConfigStateChecks: []statecheck.StateCheck{
					expectNodeNames(fleet.node("a"), fleet.node("d")),
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("node_count"), knownvalue.Int64Exact(2)),
				},
			},
			{
				Config: `data "imagedist_node_images" "test" {
  names = []
}`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("node_count"), knownvalue.Int64Exact(0)),
				},
			},
			{
				Config: fmt.Sprintf(`data "imagedist_node_images" "test" {
  names = [%q, "absent-node-1", "absent-node-2"]
}`, fleet.node("a")),
				ExpectError: regexp.MustCompile(
					`(?s)Node Not Found.*"absent-node-1" or\s+"absent-node-2"`),
			},
		},
	})
}

// TestAccNodeImagesWrongHostPrefix reads existing nodes through a host whose path prefix the
// API server does not serve. The 404s must not be reported as missing nodes.
func TestAccNodeImagesWrongHostPrefix(t *testing.T) {
	fleet := seedNodeImagesFleet(t)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: wrongPrefixProvider(t) + fmt.Sprintf(`
data "imagedist_node_images" "test" {
  names = [%q]
}`, fleet.node("a")),
				ExpectError: regexp.MustCompile(`(?s)Unable to Get Node.*` +
					wrongPrefixResponse()),
			},
			{
				Config: wrongPrefixProvider(t) + fmt.Sprintf(`
data "imagedist_node_images" "test" {
  label_selector = %q
}`, fleet.selector()),
				ExpectError: regexp.MustCompile(`(?s)Unable to List Nodes.*` +
					wrongPrefixResponse()),
			},
		},
	})
}

func TestAccNodeImagesImagesOfInterest(t *testing.T) {
	fleet := seedNodeImagesFleet(t)
	all := []string{fleet.node("a"), fleet.node("b"), fleet.node("c"), fleet.node("d"),
		fleet.node("e")}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: fmt.Sprintf(`data "imagedist_node_images" "test" {
  label_selector = %q
  images = [
    "nginx:1.27",
    "quay.io/imagedist-test/app@%s",
    "docker.io/library/nginx:1.25",
  ]
}`, fleet.selector(), fleetAppDigest),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(nodeImagesAddress, tfjsonpath.New("image_nodes"),
						knownvalue.ListExact([]knownvalue.Check{
							imageNodesEntry("docker.io/library/nginx:1.27",
								[]string{fleet.node("a"), fleet.node("d")},
								[]string{fleet.node("b"), fleet.node("c"), fleet.node("e")}),
							imageNodesEntry("quay.io/imagedist-test/app@"+fleetAppDigest,
								[]string{fleet.node("a"), fleet.node("b")},
								[]string{fleet.node("c"), fleet.node("d"), fleet.node("e")}),
							imageNodesEntry("docker.io/library/nginx:1.25", []string{}, all),
						})),
					// Each node lists only the images of interest, under their own
					// references, but counts all of them.
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("nodes").AtSliceIndex(0).AtMapKey("images"),
						knownvalue.MapExact(map[string]knownvalue.Check{
							"docker.io/library/nginx@" + fleetNginxDigest: knownvalue.Int64Exact(
								fleetNginx.SizeBytes(testcluster.CRIO)),
							"quay.io/imagedist-test/app@" + fleetAppDigest: knownvalue.Int64Exact(
								fleetApp.SizeBytes(testcluster.CRIO)),
						})),
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("nodes").AtSliceIndex(0).AtMapKey("image_count"),
						knownvalue.Int64Exact(3)),
					// nginx-ingress and mynginx must not match nginx.
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("nodes").AtSliceIndex(1).AtMapKey("images"),
						knownvalue.MapExact(map[string]knownvalue.Check{
							"quay.io/imagedist-test/app@" + fleetAppDigest: knownvalue.Int64Exact(
								fleetApp.SizeBytes(testcluster.Containerd)),
						})),
					// Node c cached nginx, but its status list was cut at 50 images.
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("nodes").AtSliceIndex(2).AtMapKey("possibly_truncated"),
						knownvalue.Bool(true)),
				},
			},
		},
	})
}

func imageNodesEntry(reference string, present, missing []string) knownvalue.Check {
	// digests and tags depend on the names each node reports; the unit tests check them.
	return knownvalue.ObjectPartial(map[string]knownvalue.Check{
		"reference":  knownvalue.StringExact(reference),
		"node_names": stringListCheck(present),
		"node_count": knownvalue.Int64Exact(int64(len(present))),
		"missing_on": stringListCheck(missing),
	})
}

func stringListCheck(values []string) knownvalue.Check {
	checks := make([]knownvalue.Check, len(values))
	for i, value := range values {
		checks[i] = knownvalue.StringExact(value)
	}
	return knownvalue.ListExact(checks)
}

func TestAccNodeImagesSummaryOnly(t *testing.T) {
	fleet := seedNodeImagesFleet(t)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: fmt.Sprintf(`data "imagedist_node_images" "test" {
  label_selector = %q
  summary_only   = true
}`, fleet.selector()),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("nodes").AtSliceIndex(0),
						knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"images":      knownvalue.MapExact(map[string]knownvalue.Check{}),
							"image_count": knownvalue.Int64Exact(3),
						})),
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("image_nodes").AtSliceIndex(0).AtMapKey("node_names"),
						knownvalue.Null()),
				},
				Check: resource.TestCheckTypeSetElemNestedAttrs(nodeImagesAddress,
					"image_nodes.*", map[string]string{
						"reference":  "docker.io/library/nginx@" + fleetNginxDigest,
						"node_count": "2",
						"tags.0":     "docker.io/library/nginx:1.27",
					}),
			},
			{
				Config: fmt.Sprintf(`data "imagedist_node_images" "test" {
  label_selector = %q
  summary_only   = true
  images         = ["nginx:1.27"]
}`, fleet.selector()),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("nodes").AtSliceIndex(0).AtMapKey("images"),
						knownvalue.MapExact(map[string]knownvalue.Check{})),
					// With summary_only, missing_on answers the question without the
					// list of nodes that have the image.
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("image_nodes").AtSliceIndex(0).AtMapKey("node_names"),
						knownvalue.Null()),
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("image_nodes").AtSliceIndex(0).AtMapKey("node_count"),
						knownvalue.Int64Exact(2)),
				},
			},
		},
	})
}

// TestAccNodeImagesTagsOfOneDigest reads two nodes that pulled one digest under different
// tags, such as a version tag and latest.
func TestAccNodeImagesTagsOfOneDigest(t *testing.T) {
	requireAcceptance(t)
	suite := acctest.RandomWithPrefix("ni-tags")
	labels := map[string]string{nodeImagesSuiteLabel: suite}
	tagged := func(tag string) testcluster.Image {
		image := fleetApp
		image.Tags = []string{tag}
		return image
	}
	nodes := []testcluster.Node{
		{Name: suite + "-a", Labels: labels, Runtime: testcluster.CRIO,
			Images: []testcluster.Image{tagged("v1")}},
		{Name: suite + "-b", Labels: labels, Runtime: testcluster.Containerd,
			Images: []testcluster.Image{tagged("v2")}},
	}
	client := nodeImagesClient(t)
	ctx := context.Background()
	if err := testcluster.SeedNodes(ctx, client, nodes); err != nil {
		t.Fatalf("seeding nodes: %v", err)
	}
	t.Cleanup(func() {
		for _, node := range nodes {
			if err := client.CoreV1().Nodes().Delete(ctx, node.Name,
				metav1.DeleteOptions{}); err != nil {
				t.Errorf("deleting node %s: %v", node.Name, err)
			}
		}
	})

	reference := "quay.io/imagedist-test/app@" + fleetAppDigest
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: fmt.Sprintf(`data "imagedist_node_images" "test" {
  label_selector = "%s=%s"
}

output "sizes" {
  value = [for node in data.imagedist_node_images.test.nodes : lookup(node.images, %q, 0)]
}`, nodeImagesSuiteLabel, suite, reference),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(nodeImagesAddress, tfjsonpath.New("image_nodes"),
						knownvalue.ListExact([]knownvalue.Check{
							knownvalue.ObjectExact(map[string]knownvalue.Check{
								"reference":  knownvalue.StringExact(reference),
								"node_names": knownvalue.Null(),
								"node_count": knownvalue.Int64Exact(2),
								"digests":    stringListCheck([]string{reference}),
								"tags": stringListCheck([]string{
									"quay.io/imagedist-test/app:v1",
									"quay.io/imagedist-test/app:v2",
								}),
								"missing_on": knownvalue.Null(),
							}),
						})),
					// Both nodes key the image by its digest name, whatever tag they report.
					statecheck.ExpectKnownOutputValue("sizes", knownvalue.ListExact(
						[]knownvalue.Check{
							knownvalue.Int64Exact(fleetApp.SizeBytes(testcluster.CRIO)),
							knownvalue.Int64Exact(fleetApp.SizeBytes(testcluster.Containerd)),
						})),
				},
			},
		},
	})
}

func TestAccNodeImagesTruncatedNode(t *testing.T) {
	fleet := seedNodeImagesFleet(t)
	truncated := func(index int, want bool) statecheck.StateCheck {
		return statecheck.ExpectKnownValue(nodeImagesAddress,
			tfjsonpath.New("nodes").AtSliceIndex(index).AtMapKey("possibly_truncated"),
			knownvalue.Bool(want))
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: fmt.Sprintf(`data "imagedist_node_images" "test" {
  label_selector = %q
  summary_only   = true
}`, fleet.selector()),
				ConfigStateChecks: []statecheck.StateCheck{
					truncated(0, false), truncated(1, false), truncated(2, true),
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("nodes").AtSliceIndex(2).AtMapKey("image_count"),
						knownvalue.Int64Exact(50)),
				},
			},
			{
				Config: fmt.Sprintf(`data "imagedist_node_images" "test" {
  label_selector         = %q
  summary_only           = true
  node_status_max_images = 3
}`, fleet.selector()),
				ConfigStateChecks: []statecheck.StateCheck{
					truncated(0, true), truncated(1, true), truncated(2, false),
					truncated(3, false),
				},
			},
			{
				Config: fmt.Sprintf(`data "imagedist_node_images" "test" {
  label_selector         = %q
  summary_only           = true
  node_status_max_images = -1
}`, fleet.selector()),
				ConfigStateChecks: []statecheck.StateCheck{
					truncated(2, false),
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("node_status_max_images"), knownvalue.Int64Exact(-1)),
				},
			},
		},
	})
}

func TestAccNodeImagesInvalidConfig(t *testing.T) {
	requireAcceptance(t)
	cases := []struct {
		name   string
		config string
		err    string
	}{
		{"selector", `label_selector = "zone in (a"`, `Invalid Label Selector`},
		{"uppercase reference", `images = ["Nginx:1.27"]`, `(?s)Invalid Image Reference.*docker pull`},
		{"reference with scheme", `images = ["https://quay.io/org/app"]`,
			`(?s)Invalid Image Reference.*docker pull`},
		{"bad digest", `images = ["nginx@sha256:abc"]`, `(?s)Invalid Image Reference.*docker pull`},
		{"conflicting selection", `
  label_selector = "node-role.kubernetes.io/worker"
  names          = ["worker-0"]`, `Invalid Attribute Combination`},
		{"page size zero", `page_size = 0`, `(?s)page_size.*between 1 and 5000`},
		{"page size too large", `page_size = 5001`, `(?s)page_size.*between 1 and 5000`},
		{"max images", `node_status_max_images = -2`, `(?s)node_status_max_images.*at least -1`},
		{"node name", `names = ["Worker_0"]`, `Invalid Node Name`},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProviderFactories,
				Steps: []resource.TestStep{{
					// The provider points at a closed port: a plan-time error must come
					// before any request to the cluster.
					Config: fmt.Sprintf(`provider "imagedist" {
  host = "https://127.0.0.1:9"
}

data "imagedist_node_images" "test" {
%s
}`, tc.config),
					ExpectError: regexp.MustCompile(tc.err),
				}},
			})
		})
	}
}

// restrictedKubeconfig creates a service account without any role and writes a kubeconfig
// that authenticates as it. It returns the kubeconfig path and the account's subject.
func restrictedKubeconfig(t *testing.T) (string, rbacv1.Subject) {
	t.Helper()
	requireAcceptance(t)
	ctx := context.Background()
	client := nodeImagesClient(t)
	namespace := acctest.RandomWithPrefix("ni-rbac")

	if err := testcluster.CreateNamespace(ctx, client, namespace, nil); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = client.CoreV1().Namespaces().Delete(ctx, namespace, metav1.DeleteOptions{})
	})
	account := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}
	if _, err := client.CoreV1().ServiceAccounts(namespace).Create(ctx, account,
		metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating service account: %v", err)
	}
	token, err := client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, "reader",
		&authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
		}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating token: %v", err)
	}

	admin, err := testcluster.RESTConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	config := clientcmdapi.NewConfig()
	config.Clusters["local"] = &clientcmdapi.Cluster{
		Server: admin.Host, CertificateAuthorityData: admin.CAData,
	}
	config.AuthInfos["reader"] = &clientcmdapi.AuthInfo{Token: token.Status.Token}
	config.Contexts["reader"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "reader"}
	config.CurrentContext = "reader"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*config, path); err != nil {
		t.Fatalf("writing kubeconfig: %v", err)
	}

	subject := rbacv1.Subject{Kind: "ServiceAccount", Name: "reader", Namespace: namespace}
	return path, subject
}

func restrictedProviderConfig(kubeconfig, dataSource string) string {
	return fmt.Sprintf(`provider "imagedist" {
  config_path    = %q
  config_context = "reader"
}

data "imagedist_node_images" "test" {
%s
}`, kubeconfig, dataSource)
}

func TestAccNodeImagesForbidden(t *testing.T) {
	kubeconfig, _ := restrictedKubeconfig(t)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: restrictedProviderConfig(kubeconfig, ""),
				ExpectError: regexp.MustCompile(
					`(?s)Unable to List Nodes.*may not list\s+nodes.*ClusterRoleBinding`),
			},
			{
				Config: restrictedProviderConfig(kubeconfig, `  names = ["worker-0"]`),
				ExpectError: regexp.MustCompile(
					`(?s)Unable to Get Node.*may not get\s+nodes`),
			},
		},
	})
}

// TestAccNodeImagesLeastPrivilege reads nodes with only the ClusterRole that the examples
// ship.
func TestAccNodeImagesLeastPrivilege(t *testing.T) {
	fleet := seedNodeImagesFleet(t)
	kubeconfig, subject := restrictedKubeconfig(t)
	bindExampleClusterRole(t, subject)
	waitUntilNodesReadable(t, kubeconfig)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: restrictedProviderConfig(kubeconfig,
					fmt.Sprintf(`  label_selector = %q`, fleet.selector())),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(nodeImagesAddress,
						tfjsonpath.New("node_count"), knownvalue.Int64Exact(5)),
				},
			},
			{
				Config: restrictedProviderConfig(kubeconfig,
					fmt.Sprintf(`  names = [%q]`, fleet.node("a"))),
				ConfigStateChecks: []statecheck.StateCheck{
					expectNodeNames(fleet.node("a")),
				},
			},
		},
	})
}

// bindExampleClusterRole creates the ClusterRole from examples/rbac/clusterrole.yaml under a
// random name and binds it to subject.
func bindExampleClusterRole(t *testing.T, subject rbacv1.Subject) {
	t.Helper()
	ctx := context.Background()
	client := nodeImagesClient(t)

	manifest, err := os.ReadFile(filepath.Join("..", "..", "examples", "rbac", "clusterrole.yaml"))
	if err != nil {
		t.Fatalf("reading the example ClusterRole: %v", err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(manifest, &role); err != nil {
		t.Fatalf("parsing the example ClusterRole: %v", err)
	}
	role.Name = acctest.RandomWithPrefix("imagedist-provider")
	if _, err := client.RbacV1().ClusterRoles().Create(ctx, &role,
		metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating ClusterRole: %v", err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{subject},
	}
	if _, err := client.RbacV1().ClusterRoleBindings().Create(ctx, binding,
		metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating ClusterRoleBinding: %v", err)
	}
	t.Cleanup(func() {
		_ = client.RbacV1().ClusterRoleBindings().Delete(ctx, role.Name, metav1.DeleteOptions{})
		_ = client.RbacV1().ClusterRoles().Delete(ctx, role.Name, metav1.DeleteOptions{})
	})
}

// waitUntilNodesReadable waits until the API server's authorizer has seen a new binding, so
// that the first step does not race it.
func waitUntilNodesReadable(t *testing.T, kubeconfig string) {
	t.Helper()
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("loading %s: %v", kubeconfig, err)
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true,
		func(ctx context.Context) (bool, error) {
			_, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: 1})
			return err == nil, nil
		})
	if err != nil {
		t.Fatalf("the service account still cannot list nodes: %v", err)
	}
}
