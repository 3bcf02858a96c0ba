package nodeimages

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
)

const (
	nginxDigest   = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	appDigest     = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	ingressDigest = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
	otherDigest   = "sha256:4444444444444444444444444444444444444444444444444444444444444444"
)

// image returns a status.images entry.
func image(size int64, names ...string) corev1.ContainerImage {
	return corev1.ContainerImage{Names: names, SizeBytes: size}
}

func node(name, runtime string, images ...corev1.ContainerImage) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{
			NodeInfo: corev1.NodeSystemInfo{ContainerRuntimeVersion: runtime},
			Images:   images,
		},
	}
}

// fillerImages returns count distinct images, for nodes that need a given image count.
func fillerImages(count int) []corev1.ContainerImage {
	images := make([]corev1.ContainerImage, count)
	for i := range images {
		images[i] = image(int64(1000-i), fmt.Sprintf("quay.io/filler/image-%d:v1", i))
	}
	return images
}

func newInventory(t *testing.T, options Options) *Inventory {
	t.Helper()
	inventory, err := New(options)
	if err != nil {
		t.Fatalf("New(%+v): %v", options, err)
	}
	return inventory
}

func onlyNode(t *testing.T, inventory *Inventory) Node {
	t.Helper()
	nodes := inventory.Nodes()
	if len(nodes) != 1 {
		t.Fatalf("got %d nodes, want 1", len(nodes))
	}
	return nodes[0]
}

// references returns the references of a node's images, in order.
func references(images []Image) []string {
	result := make([]string, len(images))
	for i, image := range images {
		result[i] = image.Reference
	}
	return result
}

func TestInventoryLeavesOutPlaceholderImages(t *testing.T) {
	inventory := newInventory(t, Options{NodeStatusMaxImages: 50})
	inventory.Add(node("worker-0", "cri-o://1.33.4",
		image(300, "<none>@<none>", "<none>:<none>"),
		image(200, "quay.io/org/app@"+appDigest, "<none>:<none>"),
	))

	got := onlyNode(t, inventory)
	want := []Image{{Reference: "quay.io/org/app@" + appDigest, SizeBytes: 200}}
	if !slices.Equal(got.Images, want) {
		t.Errorf("images = %+v, want only the named image %+v", got.Images, want)
	}
	if got.ImageCount != 2 {
		t.Errorf("image count = %d, want 2, the placeholder-only image included", got.ImageCount)
	}
	if got.TotalSizeBytes != 500 {
		t.Errorf("total size = %d, want 500, the placeholder-only image included",
			got.TotalSizeBytes)
	}

	view := inventory.ImageNodes()
	if len(view) != 1 {
		t.Fatalf("inverse view has %d entries, want 1 (placeholder-only images have no name): %+v",
			len(view), view)
	}
}

func TestInventoryReferencesAndNames(t *testing.T) {
	inventory := newInventory(t, Options{NodeStatusMaxImages: 50})
	inventory.Add(node("worker-0", "containerd://2.1.4",
		image(100,
			"docker.io/library/nginx:1.27",
			"docker.io/library/nginx@"+nginxDigest,
			"docker.io/library/nginx:latest"),
		image(50, "quay.io/org/app@"+appDigest),
		image(10, "registry.example.com:5000/team/tool:v2"),
	))

	// The first digest name is the reference even when a tag name comes first.
	wantImages := []Image{
		{Reference: "docker.io/library/nginx@" + nginxDigest, SizeBytes: 100},
		{Reference: "quay.io/org/app@" + appDigest, SizeBytes: 50},
		{Reference: "registry.example.com:5000/team/tool:v2", SizeBytes: 10},
	}
	if got := onlyNode(t, inventory).Images; !slices.Equal(got, wantImages) {
		t.Errorf("images = %+v, want %+v", got, wantImages)
	}

	view := inventory.ImageNodes()
	want := []ImageNodes{
		{Reference: "docker.io/library/nginx@" + nginxDigest,
			Digests: []string{"docker.io/library/nginx@" + nginxDigest},
			Tags:    []string{"docker.io/library/nginx:1.27", "docker.io/library/nginx:latest"}},
		{Reference: "quay.io/org/app@" + appDigest,
			Digests: []string{"quay.io/org/app@" + appDigest}, Tags: []string{}},
		{Reference: "registry.example.com:5000/team/tool:v2",
			Digests: []string{}, Tags: []string{"registry.example.com:5000/team/tool:v2"}},
	}
	if len(view) != len(want) {
		t.Fatalf("got %d entries, want %d: %+v", len(view), len(want), view)
	}
	for i := range want {
		if view[i].Reference != want[i].Reference {
			t.Errorf("entry %d reference = %q, want %q", i, view[i].Reference, want[i].Reference)
		}
		if view[i].Digests == nil || !slices.Equal(view[i].Digests, want[i].Digests) {
			t.Errorf("entry %d digests = %#v, want %q", i, view[i].Digests, want[i].Digests)
		}
		if view[i].Tags == nil || !slices.Equal(view[i].Tags, want[i].Tags) {
			t.Errorf("entry %d tags = %#v, want %q", i, view[i].Tags, want[i].Tags)
		}
	}
}

func TestInventoryNormalizesFamiliarNodeNames(t *testing.T) {
	inventory := newInventory(t, Options{NodeStatusMaxImages: 50})
	// cri-dockerd reports docker's familiar tags.
	inventory.Add(node("worker-0", "docker://27.1.1", image(100, "nginx:1.27")))

	images := onlyNode(t, inventory).Images
	if want := []string{"docker.io/library/nginx:1.27"}; !slices.Equal(references(images), want) {
		t.Errorf("references = %q, want %q", references(images), want)
	}
	view := inventory.ImageNodes()
	if len(view) != 1 {
		t.Fatalf("got %d entries, want 1: %+v", len(view), view)
	}
	if want := []string{"docker.io/library/nginx:1.27"}; !slices.Equal(view[0].Tags, want) {
		t.Errorf("tags = %q, want %q", view[0].Tags, want)
	}
}

func TestInventoryLeavesOutUnparsableNames(t *testing.T) {
	inventory := newInventory(t, Options{NodeStatusMaxImages: 50})
	inventory.Add(node("worker-0", "cri-o://1.33.4",
		image(100, "Not A Name"),
		// A valid name beside an invalid one still names the image.
		image(50, "Not A Name Either", "quay.io/org/app:v1")))

	got := onlyNode(t, inventory)
	want := []Image{{Reference: "quay.io/org/app:v1", SizeBytes: 50}}
	if !slices.Equal(got.Images, want) {
		t.Errorf("images = %+v, want %+v", got.Images, want)
	}
	if got.ImageCount != 2 {
		t.Errorf("image count = %d, want 2 with the unnamed image", got.ImageCount)
	}
	if got.TotalSizeBytes != 150 {
		t.Errorf("total size = %d, want 150 with the unnamed image", got.TotalSizeBytes)
	}
	if view := inventory.ImageNodes(); len(view) != 1 {
		t.Errorf("inverse view = %+v, want only quay.io/org/app:v1", view)
	}
}

func TestInventoryDifferentTagsOfOneDigest(t *testing.T) {
	inventory := newInventory(t, Options{NodeStatusMaxImages: 50})
	// worker-0 and worker-1 pulled one digest under two of its tags. worker-3 reports
	// familiar names that normalize to worker-2's names.
	inventory.Add(node("worker-0", "cri-o://1.33.4",
		image(100, "quay.io/org/app@"+appDigest, "quay.io/org/app:v1")))
	inventory.Add(node("worker-1", "cri-o://1.33.4",
		image(100, "quay.io/org/app:v2", "quay.io/org/app@"+appDigest)))
	inventory.Add(node("worker-2", "docker://27.1.1",
		image(90, "docker.io/library/nginx:1.27", "docker.io/library/nginx@"+nginxDigest)))
	inventory.Add(node("worker-3", "docker://27.1.1",
		image(90, "nginx:1.27", "nginx@"+nginxDigest)))

	view := inventory.ImageNodes()
	want := []ImageNodes{
		{Reference: "docker.io/library/nginx@" + nginxDigest, NodeCount: 2,
			Digests: []string{"docker.io/library/nginx@" + nginxDigest},
			Tags:    []string{"docker.io/library/nginx:1.27"}},
		{Reference: "quay.io/org/app@" + appDigest, NodeCount: 2,
			Digests: []string{"quay.io/org/app@" + appDigest},
			Tags:    []string{"quay.io/org/app:v1", "quay.io/org/app:v2"}},
	}
	if len(view) != len(want) {
		t.Fatalf("got %d entries, want %d: %+v", len(view), len(want), view)
	}
	for i := range want {
		if view[i].Reference != want[i].Reference {
			t.Errorf("entry %d reference = %q, want %q", i, view[i].Reference, want[i].Reference)
		}
		if !slices.Equal(view[i].NodeNames, want[i].NodeNames) {
			t.Errorf("entry %d nodes = %q, want %q", i, view[i].NodeNames, want[i].NodeNames)
		}
		if !slices.Equal(view[i].Digests, want[i].Digests) {
			t.Errorf("entry %d digests = %q, want %q", i, view[i].Digests, want[i].Digests)
		}
		if !slices.Equal(view[i].Tags, want[i].Tags) {
			t.Errorf("entry %d tags = %q, want %q", i, view[i].Tags, want[i].Tags)
		}
	}

	// Every node keys its image by the digest name, whatever tags it reports.
	wantReferences := []string{want[1].Reference, want[1].Reference, want[0].Reference,
		want[0].Reference}
	for i, n := range inventory.Nodes() {
		if got := references(n.Images); !slices.Equal(got, wantReferences[i:i+1]) {
			t.Errorf("%s references = %q, want [%s]", n.Name, got, wantReferences[i])
		}
	}
}

func TestInventorySharesReferenceStrings(t *testing.T) {
	inventory := newInventory(t, Options{NodeStatusMaxImages: 50})
	inventory.Add(node("worker-0", "docker://27.1.1", image(100, "nginx:1.27")))
	inventory.Add(node("worker-1", "cri-o://1.33.4", image(100, "docker.io/library/nginx:1.27")))

	nodes := inventory.Nodes()
	first, second := nodes[0].Images[0].Reference, nodes[1].Images[0].Reference
	if first != second {
		t.Fatalf("references %q and %q, want equal", first, second)
	}
	if unsafe.StringData(first) != unsafe.StringData(second) {
		t.Error("the two nodes hold separate copies of one reference, want one shared string")
	}
}

func TestInventoryDuplicateReferenceKeepsFirst(t *testing.T) {
	app := Image{Reference: "quay.io/org/app:v1", SizeBytes: 300}
	tool := Image{Reference: "quay.io/other/tool:v1", SizeBytes: 200}
	cases := []struct {
		name    string
		options Options
		want    []Image
	}{
		{"all images", Options{NodeStatusMaxImages: 50}, []Image{app, tool}},
		{"requested image", Options{Images: []string{"quay.io/org/app:v1"},
			NodeStatusMaxImages: 50}, []Image{app}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inventory := newInventory(t, tc.options)
			inventory.Add(node("worker-0", "cri-o://1.33.4",
				image(300, "quay.io/org/app:v1"),
				image(200, "quay.io/other/tool:v1"),
				image(100, "quay.io/org/app:v1")))

			got := onlyNode(t, inventory)
			if !slices.Equal(got.Images, tc.want) {
				t.Errorf("images = %+v, want %+v with the first size of the duplicate",
					got.Images, tc.want)
			}
			if got.ImageCount != 3 {
				t.Errorf("image count = %d, want 3 with the duplicate", got.ImageCount)
			}
			if got.TotalSizeBytes != 600 {
				t.Errorf("total size = %d, want 600 with the duplicate", got.TotalSizeBytes)
			}
			if view := inventory.ImageNodes(); view[0].NodeCount != 1 {
				t.Errorf("node count = %d, want the node counted once", view[0].NodeCount)
			}
		})
	}
}

func TestInventoryTruncationFlag(t *testing.T) {
	cases := []struct {
		name       string
		maxImages  int
		imageCount int
		want       bool
	}{
		{"at default cap", 50, 50, true},
		{"below default cap", 50, 49, false},
		{"above cap", 50, 51, false},
		{"custom cap", 10, 10, true},
		{"disabled", -1, 50, false},
		{"zero cap and no images", 0, 0, true},
		{"no images", 50, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inventory := newInventory(t, Options{NodeStatusMaxImages: tc.maxImages})
			inventory.Add(node("worker-0", "cri-o://1.33.4", fillerImages(tc.imageCount)...))

			got := onlyNode(t, inventory)
			if got.PossiblyTruncated != tc.want {
				t.Errorf("possibly truncated = %v, want %v", got.PossiblyTruncated, tc.want)
			}
			if got.ImageCount != tc.imageCount {
				t.Errorf("image count = %d, want %d", got.ImageCount, tc.imageCount)
			}
		})
	}
}

func TestInventoryRuntimes(t *testing.T) {
	cases := []struct {
		version string
		want    string
	}{
		{"cri-o://1.33.4-2.rhaos4.20.gitabc1234.el9", "cri-o"},
		{"containerd://2.1.4", "containerd"},
		{"docker://27.1.1", "docker"},
		{"", ""},
		{"1.2.3", ""},
	}
	for _, tc := range cases {
		t.Run(tc.version, func(t *testing.T) {
			inventory := newInventory(t, Options{NodeStatusMaxImages: 50})
			inventory.Add(node("worker-0", tc.version))

			got := onlyNode(t, inventory)
			if got.ContainerRuntime != tc.want {
				t.Errorf("runtime = %q, want %q", got.ContainerRuntime, tc.want)
			}
			if got.ContainerRuntimeVersion != tc.version {
				t.Errorf("runtime version = %q, want %q", got.ContainerRuntimeVersion, tc.version)
			}
		})
	}
}

func TestInventoryTotalsCoverFilteredImages(t *testing.T) {
	inventory := newInventory(t, Options{
		Images:              []string{"nginx:1.27"},
		NodeStatusMaxImages: 50,
	})
	inventory.Add(node("worker-0", "cri-o://1.33.4",
		image(700, "quay.io/org/app@"+appDigest),
		image(200, "docker.io/library/nginx:1.27"),
		image(100, "<none>@<none>"),
	))

	got := onlyNode(t, inventory)
	if got.ImageCount != 3 {
		t.Errorf("image count = %d, want 3", got.ImageCount)
	}
	if got.TotalSizeBytes != 1000 {
		t.Errorf("total size = %d, want 1000", got.TotalSizeBytes)
	}
	want := []Image{{Reference: "docker.io/library/nginx:1.27", SizeBytes: 200}}
	if !slices.Equal(got.Images, want) {
		t.Errorf("images = %+v, want only nginx:1.27: %+v", got.Images, want)
	}
}

func TestInventoryTotalSizeSaturates(t *testing.T) {
	cases := []struct {
		name     string
		sizes    []int64
		expected int64
	}{
		{"overflow then negative", []int64{math.MaxInt64, math.MaxInt64, -5}, math.MaxInt64},
		{"negative first", []int64{-5, math.MaxInt64, math.MaxInt64}, math.MaxInt64},
		{"exactly max", []int64{math.MaxInt64 - 10, 10}, math.MaxInt64},
		{"one past max", []int64{math.MaxInt64 - 10, 11}, math.MaxInt64},
		{"negative ignored", []int64{300, -200, 100}, 400},
		{"min int64 ignored", []int64{math.MinInt64, 7}, 7},
		{"all negative", []int64{-1, -2}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inventory := newInventory(t, Options{NodeStatusMaxImages: 50})
			images := make([]corev1.ContainerImage, len(tc.sizes))
			for i, size := range tc.sizes {
				images[i] = image(size, fmt.Sprintf("quay.io/org/image-%d:v1", i))
			}
			inventory.Add(node("worker-0", "cri-o://1.33.4", images...))

			if got := onlyNode(t, inventory).TotalSizeBytes; got != tc.expected {
				t.Errorf("total size of %v = %d, want %d", tc.sizes, got, tc.expected)
			}
		})
	}
}

func TestInventoryMatching(t *testing.T) {
	fleet := []*corev1.Node{
		node("a-nginx-latest", "cri-o://1.33.4",
			image(100, "docker.io/library/nginx@"+nginxDigest, "docker.io/library/nginx:latest")),
		node("b-nginx-old", "cri-o://1.33.4", image(100, "docker.io/library/nginx:1.25")),
		node("c-lookalikes", "cri-o://1.33.4",
			image(100, "docker.io/library/nginx-ingress:latest"),
			image(100, "docker.io/library/mynginx:latest"),
			image(100, "quay.io/library/nginx:latest"),
			image(100, "docker.io/bitnami/nginx:latest"),
			image(100, "registry.k8s.io/ingress-nginx/controller@"+ingressDigest)),
		node("d-other-repo-same-digest", "cri-o://1.33.4",
			image(100, "quay.io/mirror/nginx@"+nginxDigest)),
	}
	cases := []struct {
		reference string
		normal    string
		want      []string
	}{
		{"nginx", "docker.io/library/nginx:latest", []string{"a-nginx-latest"}},
		{"nginx:latest", "docker.io/library/nginx:latest", []string{"a-nginx-latest"}},
		{"docker.io/library/nginx", "docker.io/library/nginx:latest", []string{"a-nginx-latest"}},
		{"index.docker.io/library/nginx:latest", "docker.io/library/nginx:latest",
			[]string{"a-nginx-latest"}},
		{"library/nginx:1.25", "docker.io/library/nginx:1.25", []string{"b-nginx-old"}},
		{"nginx@" + nginxDigest, "docker.io/library/nginx@" + nginxDigest,
			[]string{"a-nginx-latest"}},
		// A tag plus a digest is identified by the digest, whatever tag the node reports.
		{"nginx:1.25@" + nginxDigest, "docker.io/library/nginx:1.25@" + nginxDigest,
			[]string{"a-nginx-latest"}},
		{"nginx@" + otherDigest, "docker.io/library/nginx@" + otherDigest, []string{}},
		{"nginx:1.27", "docker.io/library/nginx:1.27", []string{}},
		{"ingress-nginx/controller", "docker.io/ingress-nginx/controller:latest", []string{}},
		{"bitnami/nginx", "docker.io/bitnami/nginx:latest", []string{"c-lookalikes"}},
	}

	references := make([]string, len(cases))
	for i, tc := range cases {
		references[i] = tc.reference
	}
	inventory := newInventory(t, Options{Images: references, NodeStatusMaxImages: 50})
	for _, n := range fleet {
		inventory.Add(n)
	}

	view := inventory.ImageNodes()
	if len(view) != len(cases) {
		t.Fatalf("got %d entries, want one per reference (%d)", len(view), len(cases))
	}
	for i, tc := range cases {
		if view[i].Reference != tc.normal {
			t.Errorf("%s: reference = %q, want %q", tc.reference, view[i].Reference, tc.normal)
		}
		if !slices.Equal(view[i].NodeNames, tc.want) {
			t.Errorf("%s: nodes = %q, want %q", tc.reference, view[i].NodeNames, tc.want)
		}
		if view[i].NodeCount != len(tc.want) {
			t.Errorf("%s: node count = %d, want %d", tc.reference, view[i].NodeCount, len(tc.want))
		}
	}
}

func TestInventoryRequestedView(t *testing.T) {
	inventory := newInventory(t, Options{
		Images:              []string{"quay.io/org/app@" + appDigest, "nginx:1.27", "nginx:1.27"},
		NodeStatusMaxImages: 50,
	})
	// Added out of order, so that the views must sort them.
	inventory.Add(node("worker-2", "cri-o://1.33.4",
		image(100, "quay.io/org/app@"+appDigest, "quay.io/org/app:v1"),
		image(90, "docker.io/library/nginx:1.27")))
	inventory.Add(node("worker-0", "cri-o://1.33.4", image(100, "quay.io/org/app@"+appDigest)))
	inventory.Add(node("worker-1", "cri-o://1.33.4", image(100, "docker.io/library/busybox:1")))

	view := inventory.ImageNodes()
	want := []ImageNodes{
		{
			Reference: "quay.io/org/app@" + appDigest,
			NodeNames: []string{"worker-0", "worker-2"},
			NodeCount: 2,
			MissingOn: []string{"worker-1"},
			Digests:   []string{"quay.io/org/app@" + appDigest},
			Tags:      []string{"quay.io/org/app:v1"},
		},
		{
			Reference: "docker.io/library/nginx:1.27",
			NodeNames: []string{"worker-2"},
			NodeCount: 1,
			MissingOn: []string{"worker-0", "worker-1"},
			Digests:   []string{},
			Tags:      []string{"docker.io/library/nginx:1.27"},
		},
		{
			Reference: "docker.io/library/nginx:1.27",
			NodeNames: []string{"worker-2"},
			NodeCount: 1,
			MissingOn: []string{"worker-0", "worker-1"},
			Digests:   []string{},
			Tags:      []string{"docker.io/library/nginx:1.27"},
		},
	}
	if len(view) != len(want) {
		t.Fatalf("got %d entries, want %d: %+v", len(view), len(want), view)
	}
	for i := range want {
		if view[i].Reference != want[i].Reference {
			t.Errorf("entry %d reference = %q, want %q", i, view[i].Reference, want[i].Reference)
		}
		if !slices.Equal(view[i].NodeNames, want[i].NodeNames) {
			t.Errorf("entry %d nodes = %q, want %q", i, view[i].NodeNames, want[i].NodeNames)
		}
		if view[i].NodeCount != want[i].NodeCount {
			t.Errorf("entry %d count = %d, want %d", i, view[i].NodeCount, want[i].NodeCount)
		}
		if !slices.Equal(view[i].MissingOn, want[i].MissingOn) {
			t.Errorf("entry %d missing on = %q, want %q", i, view[i].MissingOn, want[i].MissingOn)
		}
		// The names of the matching images lead from the request to the nodes' keys.
		if !slices.Equal(view[i].Digests, want[i].Digests) {
			t.Errorf("entry %d digests = %q, want %q", i, view[i].Digests, want[i].Digests)
		}
		if !slices.Equal(view[i].Tags, want[i].Tags) {
			t.Errorf("entry %d tags = %q, want %q", i, view[i].Tags, want[i].Tags)
		}
	}

	nodes := inventory.Nodes()
	names := []string{nodes[0].Name, nodes[1].Name, nodes[2].Name}
	if !slices.Equal(names, []string{"worker-0", "worker-1", "worker-2"}) {
		t.Errorf("nodes in order %q, want sorted by name", names)
	}
	if len(nodes[1].Images) != 0 {
		t.Errorf("worker-1 images = %+v, want none of interest", nodes[1].Images)
	}
	// The image's reference is its digest name, whichever of its names matched.
	wantImages := []Image{
		{Reference: "quay.io/org/app@" + appDigest, SizeBytes: 100},
		{Reference: "docker.io/library/nginx:1.27", SizeBytes: 90},
	}
	if !slices.Equal(nodes[2].Images, wantImages) {
		t.Errorf("worker-2 images = %+v, want %+v", nodes[2].Images, wantImages)
	}
}

func TestInventoryRequestedOnNoNode(t *testing.T) {
	inventory := newInventory(t, Options{Images: []string{"nginx"}, NodeStatusMaxImages: 50})

	view := inventory.ImageNodes()
	if len(view) != 1 {
		t.Fatalf("got %d entries, want 1", len(view))
	}
	if view[0].NodeNames == nil || len(view[0].NodeNames) != 0 {
		t.Errorf("node names = %#v, want an empty, non-nil list", view[0].NodeNames)
	}
	if view[0].MissingOn == nil || len(view[0].MissingOn) != 0 {
		t.Errorf("missing on = %#v, want an empty, non-nil list", view[0].MissingOn)
	}
}

func TestInventoryFullInverseView(t *testing.T) {
	inventory := newInventory(t, Options{NodeStatusMaxImages: 50})
	inventory.Add(node("worker-1", "cri-o://1.33.4",
		image(100, "quay.io/org/app@"+appDigest, "quay.io/org/app:v1"),
		image(90, "docker.io/library/nginx:1.27"),
		image(80, "<none>@<none>")))
	inventory.Add(node("worker-0", "containerd://2.1.4",
		// Same image, but the tag moved away: the digest still identifies it.
		image(60, "quay.io/org/app@"+appDigest),
		image(50, "docker.io/library/nginx:1.27")))
	inventory.Add(node("worker-2", "containerd://2.1.4",
		// The same image twice must count the node once.
		image(60, "docker.io/library/nginx:1.27"),
		image(60, "docker.io/library/nginx:1.27")))

	view := inventory.ImageNodes()
	want := []ImageNodes{
		{Reference: "docker.io/library/nginx:1.27", NodeCount: 3,
			Digests: []string{}, Tags: []string{"docker.io/library/nginx:1.27"}},
		{Reference: "quay.io/org/app@" + appDigest, NodeCount: 2,
			Digests: []string{"quay.io/org/app@" + appDigest},
			Tags:    []string{"quay.io/org/app:v1"}},
	}
	if len(view) != len(want) {
		t.Fatalf("got %d entries, want %d: %+v", len(view), len(want), view)
	}
	for i := range want {
		if view[i].Reference != want[i].Reference {
			t.Errorf("entry %d reference = %q, want %q", i, view[i].Reference, want[i].Reference)
		}
		if !slices.Equal(view[i].NodeNames, want[i].NodeNames) {
			t.Errorf("entry %d nodes = %q, want %q", i, view[i].NodeNames, want[i].NodeNames)
		}
		if view[i].NodeCount != want[i].NodeCount {
			t.Errorf("entry %d count = %d, want %d", i, view[i].NodeCount, want[i].NodeCount)
		}
		if view[i].MissingOn != nil {
			t.Errorf("entry %d missing on = %q, want nil without requested images", i,
				view[i].MissingOn)
		}
		if !slices.Equal(view[i].Digests, want[i].Digests) {
			t.Errorf("entry %d digests = %q, want %q", i, view[i].Digests, want[i].Digests)
		}
		if !slices.Equal(view[i].Tags, want[i].Tags) {
			t.Errorf("entry %d tags = %q, want %q", i, view[i].Tags, want[i].Tags)
		}
	}

	// worker-2 reports nginx twice, and its image list keeps it once.
	nodes := inventory.Nodes()
	if got := references(nodes[2].Images); !slices.Equal(got,
		[]string{"docker.io/library/nginx:1.27"}) {
		t.Errorf("worker-2 references = %q, want nginx once", got)
	}
	// worker-1's dangling image has no reference but counts.
	if len(nodes[1].Images) != 2 {
		t.Errorf("worker-1 images = %+v, want 2 without the dangling image", nodes[1].Images)
	}
	if nodes[1].ImageCount != 3 {
		t.Errorf("worker-1 image count = %d, want 3", nodes[1].ImageCount)
	}
}

func TestInventorySummaryOnly(t *testing.T) {
	fleet := []*corev1.Node{
		node("worker-0", "cri-o://1.33.4",
			image(100, "docker.io/library/nginx:1.27"), image(50, "quay.io/org/app:v1")),
		node("worker-1", "cri-o://1.33.4", image(100, "docker.io/library/nginx:1.27")),
	}

	t.Run("without requested images", func(t *testing.T) {
		inventory := newInventory(t, Options{SummaryOnly: true, NodeStatusMaxImages: 50})
		for _, n := range fleet {
			inventory.Add(n)
		}
		for _, n := range inventory.Nodes() {
			if n.Images != nil {
				t.Errorf("%s images = %+v, want nil", n.Name, n.Images)
			}
		}
		nodes := inventory.Nodes()
		if nodes[0].ImageCount != 2 || nodes[0].TotalSizeBytes != 150 {
			t.Errorf("worker-0 count %d size %d, want 2 and 150", nodes[0].ImageCount,
				nodes[0].TotalSizeBytes)
		}
		view := inventory.ImageNodes()
		if len(view) != 2 {
			t.Fatalf("got %d entries, want 2", len(view))
		}
		if view[0].NodeCount != 2 || view[1].NodeCount != 1 {
			t.Errorf("counts %d and %d, want 2 and 1", view[0].NodeCount, view[1].NodeCount)
		}
		if view[0].NodeNames != nil {
			t.Errorf("node names = %q, want nil in a summary", view[0].NodeNames)
		}
		if want := []string{"docker.io/library/nginx:1.27"}; !slices.Equal(view[0].Tags, want) {
			t.Errorf("tags = %q, want %q in a summary too", view[0].Tags, want)
		}
	})

	t.Run("with requested images", func(t *testing.T) {
		inventory := newInventory(t, Options{
			Images:              []string{"quay.io/org/app:v1"},
			SummaryOnly:         true,
			NodeStatusMaxImages: 50,
		})
		for _, n := range fleet {
			inventory.Add(n)
		}
		for _, n := range inventory.Nodes() {
			if n.Images != nil {
				t.Errorf("%s images = %+v, want nil", n.Name, n.Images)
			}
		}
		view := inventory.ImageNodes()
		if view[0].NodeNames != nil {
			t.Errorf("node names = %q, want nil in a summary", view[0].NodeNames)
		}
		if view[0].NodeCount != 1 {
			t.Errorf("node count = %d, want 1", view[0].NodeCount)
		}
		if !slices.Equal(view[0].MissingOn, []string{"worker-1"}) {
			t.Errorf("missing on = %q, want [worker-1]", view[0].MissingOn)
		}
	})
}

func TestInventoryReset(t *testing.T) {
	inventory := newInventory(t, Options{Images: []string{"nginx:1.27"}, NodeStatusMaxImages: 50})
	inventory.Add(node("worker-0", "cri-o://1.33.4", image(100, "docker.io/library/nginx:1.27")))
	inventory.Reset()
	inventory.Add(node("worker-1", "cri-o://1.33.4"))

	if inventory.NodeCount() != 1 {
		t.Errorf("node count = %d, want 1 after reset", inventory.NodeCount())
	}
	view := inventory.ImageNodes()
	if view[0].NodeCount != 0 {
		t.Errorf("nginx node count = %d, want 0 after reset", view[0].NodeCount)
	}
	if !slices.Equal(view[0].MissingOn, []string{"worker-1"}) {
		t.Errorf("missing on = %q, want [worker-1]", view[0].MissingOn)
	}
}

func TestNewRejectsInvalidReference(t *testing.T) {
	for _, reference := range []string{
		"Nginx",
		"https://quay.io/org/app",
		"nginx@sha256:abc",
		"",
	} {
		t.Run(reference, func(t *testing.T) {
			_, err := New(Options{Images: []string{reference}})
			var referenceError *imageref.ReferenceError
			if !errors.As(err, &referenceError) {
				t.Errorf("New with %q: error %v, want an *imageref.ReferenceError", reference, err)
			}
		})
	}
}

func TestInventoryEmptyFilter(t *testing.T) {
	inventory := newInventory(t, Options{Filter: true, NodeStatusMaxImages: 50})
	inventory.Add(node("worker-0", "cri-o://1.33.4", image(100, "docker.io/library/nginx:1.27")))

	nodes := inventory.Nodes()
	if len(nodes[0].Images) != 0 {
		t.Errorf("images = %+v, want none with an empty filter", nodes[0].Images)
	}
	if nodes[0].ImageCount != 1 || nodes[0].TotalSizeBytes != 100 {
		t.Errorf("count %d and total %d, want 1 and 100", nodes[0].ImageCount,
			nodes[0].TotalSizeBytes)
	}
	if view := inventory.ImageNodes(); len(view) != 0 {
		t.Errorf("ImageNodes = %+v, want none with an empty filter", view)
	}
}
