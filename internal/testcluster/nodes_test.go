package testcluster

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

var (
	digestName = regexp.MustCompile(`^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+@sha256:[0-9a-f]{64}$`)
	tagName    = regexp.MustCompile(`^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
)

func TestImageNames(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		name     string
		image    Image
		expected []string
	}{
		{
			name:     "digest then tag",
			image:    Image{Repository: "quay.io/org/app", Tags: []string{"1.0"}, Digest: digest},
			expected: []string{"quay.io/org/app@" + digest, "quay.io/org/app:1.0"},
		},
		{
			name:     "digest only",
			image:    Image{Repository: "quay.io/org/app", Digest: digest},
			expected: []string{"quay.io/org/app@" + digest},
		},
		{
			name: "mirror digest before tags",
			image: Image{Repository: "quay.io/org/app", Tags: []string{"1.0", "latest"},
				Digest: digest, MirrorRepositories: []string{"mirror.example:5000/org/app"}},
			expected: []string{
				"quay.io/org/app@" + digest, "mirror.example:5000/org/app@" + digest,
				"quay.io/org/app:1.0", "quay.io/org/app:latest",
			},
		},
		{
			name: "capped at five names",
			image: Image{Repository: "quay.io/org/app", Digest: digest,
				Tags: []string{"a", "b", "c", "d", "e", "f"}},
			expected: []string{
				"quay.io/org/app@" + digest, "quay.io/org/app:a", "quay.io/org/app:b",
				"quay.io/org/app:c", "quay.io/org/app:d",
			},
		},
		{
			name:     "dangling",
			image:    Image{Repository: "quay.io/org/app", Digest: digest, Dangling: true},
			expected: []string{"<none>@<none>", "<none>:<none>"},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if names := test.image.Names(); !slices.Equal(names, test.expected) {
				t.Errorf("Names() = %q, expected %q", names, test.expected)
			}
		})
	}
}

func TestImageSizeByRuntime(t *testing.T) {
	image := Image{CompressedSize: 100 * mebibyte, UncompressedSize: 260 * mebibyte}
	if size := image.SizeBytes(Containerd); size != 100*mebibyte {
		t.Errorf("containerd size = %d, expected the compressed size %d", size, 100*mebibyte)
	}
	if size := image.SizeBytes(CRIO); size <= 260*mebibyte || size > 261*mebibyte {
		t.Errorf("CRI-O size = %d, expected the uncompressed size %d plus a few KiB", size,
			260*mebibyte)
	}
}

func TestStatusImagesSortedAndCapped(t *testing.T) {
	var images []Image
	for i := range 60 {
		// Sizes in an order that is neither ascending nor descending.
		size := int64((i*37)%60+1) * mebibyte
		images = append(images, Image{
			Repository:       fmt.Sprintf("quay.io/org/app-%d", i),
			Tags:             []string{"1"},
			CompressedSize:   size,
			UncompressedSize: 2 * size,
		})
	}

	var allSizes []int64
	for _, image := range images {
		allSizes = append(allSizes, image.SizeBytes(CRIO))
	}
	slices.Sort(allSizes)
	slices.Reverse(allSizes)

	tests := []struct {
		name      string
		maxImages int
		expected  int
	}{
		{"kubelet default", 0, DefaultMaxImages},
		{"custom cap", 10, 10},
		{"unlimited", -1, 60},
		{"cap above count", 100, 60},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			node := Node{Name: "n", Images: images, MaxImages: test.maxImages}
			status := node.StatusImages()
			if len(status) != test.expected {
				t.Fatalf("len(StatusImages()) = %d, expected %d", len(status), test.expected)
			}
			if !slices.IsSortedFunc(status, func(a, b corev1.ContainerImage) int {
				return int(b.SizeBytes - a.SizeBytes)
			}) {
				t.Errorf("StatusImages() is not sorted by size, largest first")
			}
			// The cap keeps the largest images.
			for i, image := range status {
				if image.SizeBytes != allSizes[i] {
					t.Errorf("image %d has size %d, expected %d", i, image.SizeBytes, allSizes[i])
				}
			}
		})
	}
}

func TestNodeObject(t *testing.T) {
	node := Node{
		Name:   "worker-9",
		Labels: map[string]string{LabelWorkerRole: ""},
		Taints: []corev1.Taint{{Key: "dedicated", Value: "gpu",
			Effect: corev1.TaintEffectNoSchedule}},
		Runtime: Containerd,
	}
	object := node.Object()

	if object.Labels[corev1.LabelHostname] != "worker-9" {
		t.Errorf("hostname label = %q, expected worker-9", object.Labels[corev1.LabelHostname])
	}
	if _, ok := object.Labels[LabelWorkerRole]; !ok {
		t.Errorf("worker role label missing")
	}
	if len(object.Spec.Taints) != 1 || object.Spec.Taints[0].Key != "dedicated" {
		t.Errorf("taints = %v, expected the dedicated taint", object.Spec.Taints)
	}
	if !nodeReady(object) {
		t.Errorf("node is not Ready")
	}

	info := object.Status.NodeInfo
	if info.ContainerRuntimeVersion != "containerd://2.1.4" {
		t.Errorf("containerRuntimeVersion = %q, expected containerd://2.1.4",
			info.ContainerRuntimeVersion)
	}
	if info.KubeletVersion != KubeletVersion {
		t.Errorf("kubeletVersion = %q, expected %q", info.KubeletVersion, KubeletVersion)
	}
	if info.Architecture != "amd64" || info.OperatingSystem != "linux" {
		t.Errorf("architecture and OS = %s/%s, expected linux/amd64", info.OperatingSystem,
			info.Architecture)
	}
	if len(object.Status.Addresses) != 2 || object.Status.Addresses[1].Address != "worker-9" {
		t.Errorf("addresses = %v, expected an InternalIP and the hostname",
			object.Status.Addresses)
	}
	if object.Status.Allocatable.Cpu().Cmp(*object.Status.Capacity.Cpu()) >= 0 {
		t.Errorf("allocatable CPU %s is not below capacity %s",
			object.Status.Allocatable.Cpu(), object.Status.Capacity.Cpu())
	}

	crio := Node{Name: "worker-8"}.Object().Status.NodeInfo.ContainerRuntimeVersion
	if !strings.HasPrefix(crio, "cri-o://1.33.4-") {
		t.Errorf("default runtime version = %q, expected cri-o://1.33.4-...", crio)
	}

	notReady := Node{Name: "worker-7", NotReady: true}.Object()
	if nodeReady(notReady) {
		t.Errorf("node with NotReady set reports Ready=True")
	}
}

func TestDemoNodesFleet(t *testing.T) {
	nodes := DemoNodes()
	if len(nodes) != 5 {
		t.Fatalf("len(DemoNodes()) = %d, expected 5", len(nodes))
	}

	runtimes := map[Runtime]int{}
	workers := 0
	for _, node := range nodes {
		runtimes[node.Runtime]++
		if _, ok := node.Labels[LabelWorkerRole]; ok {
			workers++
		}
	}
	if runtimes[CRIO] != 4 || runtimes[Containerd] != 1 {
		t.Errorf("runtimes = %v, expected 4 CRI-O nodes and 1 containerd node", runtimes)
	}
	if workers != 4 {
		t.Errorf("workers = %d, expected 4", workers)
	}

	master := nodes[0].Object()
	if _, ok := master.Labels[LabelControlPlaneRole]; !ok {
		t.Errorf("%s lacks the control-plane role label", master.Name)
	}
	if len(master.Spec.Taints) != 1 || master.Spec.Taints[0].Effect != corev1.TaintEffectNoSchedule {
		t.Errorf("%s taints = %v, expected one NoSchedule taint", master.Name, master.Spec.Taints)
	}

	worker0 := nodes[1]
	if len(worker0.Images) <= DefaultMaxImages {
		t.Errorf("worker-0 has %d images, expected more than %d so its status is truncated",
			len(worker0.Images), DefaultMaxImages)
	}
	if reported := len(worker0.StatusImages()); reported != DefaultMaxImages {
		t.Errorf("worker-0 reports %d images, expected %d", reported, DefaultMaxImages)
	}
}

func TestDemoNodesImageNames(t *testing.T) {
	var digestOnly, placeholders, mirrored int
	for _, node := range DemoNodes() {
		for _, image := range node.StatusImages() {
			names := image.Names
			if slices.Equal(names, []string{PlaceholderDigestName, PlaceholderTagName}) {
				placeholders++
				continue
			}
			if len(names) == 1 {
				digestOnly++
			}
			digests := 0
			for _, name := range names {
				switch {
				case digestName.MatchString(name):
					digests++
				case tagName.MatchString(name):
				default:
					t.Errorf("node %s: image name %q is neither a digest nor a tag name",
						node.Name, name)
				}
			}
			if digests == 0 || !digestName.MatchString(names[0]) {
				t.Errorf("node %s: names %q do not start with a digest name", node.Name, names)
			}
			if digests > 1 {
				mirrored++
			}
		}
	}

	if digestOnly == 0 {
		t.Errorf("no image has a digest name only")
	}
	if placeholders == 0 {
		t.Errorf("no image has the placeholder names")
	}
	if mirrored == 0 {
		t.Errorf("no image has a mirror digest name")
	}
}

func TestDemoNodesRuntimeSizes(t *testing.T) {
	// nginx:1.27 is on CRI-O and containerd nodes, so its reported size differs by runtime.
	sizes := map[Runtime]int64{}
	for _, node := range DemoNodes() {
		for _, image := range node.StatusImages() {
			if slices.Contains(image.Names, "docker.io/library/nginx:1.27") {
				sizes[node.Runtime] = image.SizeBytes
			}
		}
	}
	if sizes[CRIO] == 0 || sizes[Containerd] == 0 {
		t.Fatalf("nginx:1.27 sizes = %v, expected it on both runtimes", sizes)
	}
	if sizes[CRIO] < 2*sizes[Containerd] {
		t.Errorf("CRI-O size %d is not well above the containerd size %d", sizes[CRIO],
			sizes[Containerd])
	}
}

func TestDemoNodesSharedImages(t *testing.T) {
	// The inverse view, image name to nodes, needs images that several nodes report.
	nodesByName := map[string]map[string]bool{}
	for _, node := range DemoNodes() {
		for _, image := range node.StatusImages() {
			for _, name := range image.Names {
				if nodesByName[name] == nil {
					nodesByName[name] = map[string]bool{}
				}
				nodesByName[name][node.Name] = true
			}
		}
	}

	if count := len(nodesByName["docker.io/library/nginx:1.27"]); count < 3 {
		t.Errorf("nginx:1.27 is on %d nodes, expected at least 3", count)
	}
	if count := len(nodesByName["quay.io/imagedist-demo/checkout:2.4.1"]); count < 3 {
		t.Errorf("checkout:2.4.1 is on %d nodes, expected at least 3", count)
	}
	if len(nodesByName["quay.io/imagedist-demo/checkout:2.4.0"]) == 0 {
		t.Errorf("checkout:2.4.0 is on no node, expected a node still on the older tag")
	}
}

func TestDemoNodesDeterministic(t *testing.T) {
	first, second := DemoNodes(), DemoNodes()
	if !reflect.DeepEqual(first, second) {
		t.Errorf("DemoNodes() differs between calls")
	}
}

func TestGenerateNodesDeterministic(t *testing.T) {
	first := GenerateNodes(50, 30, 7)
	second := GenerateNodes(50, 30, 7)
	if !reflect.DeepEqual(first, second) {
		t.Errorf("GenerateNodes with the same seed differs")
	}
	other := GenerateNodes(50, 30, 8)
	if reflect.DeepEqual(first, other) {
		t.Errorf("GenerateNodes with different seeds is equal")
	}
}

func TestGenerateNodesShape(t *testing.T) {
	const count, perNode = 1000, 80
	nodes := GenerateNodes(count, perNode, 42)
	if len(nodes) != count {
		t.Fatalf("len = %d, expected %d", len(nodes), count)
	}

	names := map[string]bool{}
	addresses := map[string]bool{}
	imageNodes := map[string]int{}
	containerd := 0
	for _, node := range nodes {
		if names[node.Name] {
			t.Errorf("duplicate node name %s", node.Name)
		}
		names[node.Name] = true
		if addresses[node.InternalIP] {
			t.Errorf("duplicate address %s", node.InternalIP)
		}
		addresses[node.InternalIP] = true
		if node.Runtime == Containerd {
			containerd++
		}

		if len(node.Images) != perNode {
			t.Errorf("node %s has %d images, expected %d", node.Name, len(node.Images), perNode)
		}
		digests := map[string]bool{}
		for _, image := range node.Images {
			if digests[image.Digest] {
				t.Errorf("node %s has image %s twice", node.Name, image.Digest)
			}
			digests[image.Digest] = true
			imageNodes[image.Digest]++
		}
		if reported := len(node.StatusImages()); reported != DefaultMaxImages {
			t.Errorf("node %s reports %d images, expected the cap %d", node.Name, reported,
				DefaultMaxImages)
		}
	}

	if containerd < count/10 || containerd > count*3/10 {
		t.Errorf("%d of %d nodes run containerd, expected about a fifth", containerd, count)
	}
	popular := 0
	for _, nodeCount := range imageNodes {
		if nodeCount > count/2 {
			popular++
		}
	}
	if popular == 0 {
		t.Errorf("no image is on more than half of the nodes, expected a few popular images")
	}
	if len(imageNodes) < 2*perNode {
		t.Errorf("only %d distinct images across the fleet, expected a long tail", len(imageNodes))
	}
}

func TestGenerateNodesEdgeCases(t *testing.T) {
	if nodes := GenerateNodes(0, 10, 1); nodes != nil {
		t.Errorf("GenerateNodes(0, ...) = %d nodes, expected none", len(nodes))
	}
	nodes := GenerateNodes(3, -5, 1)
	if len(nodes) != 3 {
		t.Fatalf("len = %d, expected 3", len(nodes))
	}
	for _, node := range nodes {
		if len(node.Images) != 0 {
			t.Errorf("node %s has %d images, expected none", node.Name, len(node.Images))
		}
	}
}
