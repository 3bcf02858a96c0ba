package testcluster

import (
	"fmt"
	"math"
	"math/rand/v2"

	corev1 "k8s.io/api/core/v1"
)

const mebibyte = 1 << 20

// Node role labels as OpenShift and kubeadm set them.
const (
	LabelWorkerRole       = "node-role.kubernetes.io/worker"
	LabelControlPlaneRole = "node-role.kubernetes.io/control-plane"
	LabelMasterRole       = "node-role.kubernetes.io/master"
)

// releaseRepository is the repository of OpenShift release payload images. Nodes pull them
// by digest only, so they have no tag names.
const releaseRepository = "quay.io/openshift-release-dev/ocp-v4.0-art-dev"

// newImage returns an image with a digest derived from its repository and tag and an
// uncompressed size of ratio times the compressed size. An empty tag makes a digest-only
// image.
func newImage(repository, tag string, compressedMiB float64, ratio float64) Image {
	image := Image{
		Repository:       repository,
		Digest:           "sha256:" + hexDigest(repository+":"+tag),
		CompressedSize:   int64(compressedMiB * mebibyte),
		UncompressedSize: int64(compressedMiB * ratio * mebibyte),
	}
	if tag != "" {
		image.Tags = []string{tag}
	}
	return image
}

// releaseImage returns an OpenShift 4.20 release payload image for the named component.
func releaseImage(component string, compressedMiB float64) Image {
	image := newImage(releaseRepository, "", compressedMiB, 2.6)
	image.Digest = "sha256:" + hexDigest("openshift-4.20/"+component)
	return image
}

// Release payload images that every OpenShift node runs.
var nodeReleaseImages = []Image{
	releaseImage("ovn-kubernetes", 612),
	releaseImage("multus-cni", 198),
	releaseImage("multus-route-override-cni", 121),
	releaseImage("multus-whereabouts-ipam-cni", 135),
	releaseImage("egress-router-cni", 128),
	releaseImage("container-networking-plugins", 341),
	releaseImage("network-metrics-daemon", 117),
	releaseImage("network-tools", 402),
	releaseImage("kube-rbac-proxy", 129),
	releaseImage("prometheus-node-exporter", 138),
	releaseImage("machine-config-operator", 356),
	releaseImage("cluster-node-tuning-operator", 472),
	releaseImage("coredns", 153),
	releaseImage("cli", 284),
	releaseImage("haproxy-router", 236),
	releaseImage("aws-ebs-csi-driver", 148),
	releaseImage("csi-node-driver-registrar", 109),
	releaseImage("csi-livenessprobe", 107),
	releaseImage("insights-runtime-extractor", 96),
	releaseImage("iptables-alerter", 104),
	releaseImage("pod", 0.6),
}

// Release payload images that only control-plane nodes run.
var controlPlaneReleaseImages = []Image{
	releaseImage("hyperkube", 392),
	releaseImage("etcd", 187),
	releaseImage("cluster-etcd-operator", 226),
	releaseImage("cluster-kube-apiserver-operator", 215),
	releaseImage("cluster-kube-controller-manager-operator", 201),
	releaseImage("cluster-kube-scheduler-operator", 198),
	releaseImage("openshift-apiserver", 176),
	releaseImage("oauth-server", 142),
	releaseImage("cluster-authentication-operator", 171),
	releaseImage("cluster-network-operator", 189),
	releaseImage("cluster-ingress-operator", 166),
	releaseImage("cluster-image-registry-operator", 161),
	releaseImage("cluster-storage-operator", 150),
	releaseImage("cluster-monitoring-operator", 158),
	releaseImage("console-operator", 163),
	releaseImage("operator-lifecycle-manager", 208),
	releaseImage("operator-registry", 187),
	releaseImage("machine-config-controller", 356),
	{
		Repository:       "quay.io/openshift-release-dev/ocp-release",
		Tags:             []string{"4.20.3-x86_64"},
		Digest:           "sha256:" + hexDigest("openshift-4.20/release"),
		CompressedSize:   168 * mebibyte,
		UncompressedSize: 431 * mebibyte,
	},
}

// Application and base images shared by several demo nodes.
var (
	ubi9        = newImage("registry.access.redhat.com/ubi9/ubi", "9.6", 79, 2.7)
	ubi9Minimal = newImage("registry.access.redhat.com/ubi9/ubi-minimal", "9.6", 37.5, 2.6)
	nginx       = newImage("docker.io/library/nginx", "1.27", 68.2, 2.8)
	redis       = newImage("docker.io/library/redis", "7.4", 45.3, 2.6)
	postgres    = newImage("docker.io/library/postgres", "16.10", 154, 2.8)
	python      = newImage("docker.io/library/python", "3.13-slim", 41.6, 2.9)
	busybox     = newImage("docker.io/library/busybox", "1.37", 2.1, 2.1)
	distroless  = newImage("gcr.io/distroless/static-debian12", "nonroot", 0.98, 2.0)
	temurin     = newImage("docker.io/library/eclipse-temurin", "21-jre", 88.4, 2.3)
	keycloak    = newImage("quay.io/keycloak/keycloak", "26.3", 219, 2.1)
	checkout240 = newImage("quay.io/imagedist-demo/checkout", "2.4.0", 96.5, 2.4)
	checkout241 = newImage("quay.io/imagedist-demo/checkout", "2.4.1", 96.7, 2.4)
	catalog     = newImage("quay.io/imagedist-demo/catalog", "1.12.0", 131, 2.5)
	frontend    = newImage("ghcr.io/imagedist-demo/frontend", "5.2.0", 24.8, 2.2)
	payments    = newImage("registry.example.com/payments/api", "3.8.2", 112, 2.6)
)

// appHistory returns older releases of the demo services: a node keeps every version it
// ever ran until image garbage collection removes it.
func appHistory() []Image {
	services := []struct {
		name          string
		compressedMiB float64
	}{
		{"checkout", 95}, {"catalog", 128}, {"cart", 61}, {"search", 187},
		{"recommendations", 242}, {"notifications", 54},
	}

	var images []Image
	for _, service := range services {
		for minor := range 4 {
			tag := fmt.Sprintf("1.%d.%d", minor+6, minor%3)
			size := service.compressedMiB * (0.9 + 0.02*float64(minor))
			images = append(images,
				newImage("quay.io/imagedist-demo/"+service.name, tag, size, 2.4))
		}
	}
	return images
}

// DemoNodes returns a small fleet that looks like an OpenShift 4.20 cluster with one
// containerd node added: the control-plane node master-0, the CRI-O workers worker-0 to
// worker-2 and the containerd worker worker-containerd-0. The content is the same on every
// call, except condition heartbeat times.
//
// Workers share base and application images, some under different tags and digests.
// worker-0 holds more than 50 images, so its status is truncated. worker-1 has a dangling
// image and worker-2 pulled an image through a mirror. Release payload images have digest
// names only.
func DemoNodes() []Node {
	worker := func(zone string) map[string]string {
		return map[string]string{
			LabelWorkerRole:                    "",
			"node.openshift.io/os_id":          "rhcos",
			"topology.kubernetes.io/region":    "eu-west-1",
			"topology.kubernetes.io/zone":      "eu-west-1" + zone,
			"node.kubernetes.io/instance-type": "m6i.2xlarge",
		}
	}
	join := func(lists ...[]Image) []Image {
		var all []Image
		for _, list := range lists {
			all = append(all, list...)
		}
		return all
	}

	mirroredUBI := ubi9
	mirroredUBI.MirrorRepositories = []string{"mirror.example.internal:5000/ubi9/ubi"}
	danglingCheckout := newImage("quay.io/imagedist-demo/checkout", "2.3.9", 95.8, 2.4)
	danglingCheckout.Dangling = true

	master := Node{
		Name: "master-0",
		Labels: map[string]string{
			LabelControlPlaneRole:           "",
			LabelMasterRole:                 "",
			"node.openshift.io/os_id":       "rhcos",
			"topology.kubernetes.io/region": "eu-west-1",
			"topology.kubernetes.io/zone":   "eu-west-1a",
		},
		Taints: []corev1.Taint{
			{Key: LabelMasterRole, Effect: corev1.TaintEffectNoSchedule},
		},
		Runtime: CRIO,
		Images:  join(nodeReleaseImages, controlPlaneReleaseImages),
	}

	return []Node{
		master,
		{
			Name:    "worker-0",
			Labels:  worker("a"),
			Runtime: CRIO,
			Images: join(nodeReleaseImages, appHistory(), []Image{
				ubi9, ubi9Minimal, nginx, redis, postgres, checkout240, catalog, payments,
				distroless, busybox,
			}),
		},
		{
			Name:    "worker-1",
			Labels:  worker("b"),
			Runtime: CRIO,
			Images: join(nodeReleaseImages, []Image{
				ubi9, ubi9Minimal, nginx, python, temurin, keycloak, checkout241, catalog,
				frontend, danglingCheckout, distroless,
			}),
		},
		{
			Name:    "worker-2",
			Labels:  worker("c"),
			Runtime: CRIO,
			Images: join(nodeReleaseImages, []Image{
				mirroredUBI, redis, postgres, checkout241, payments, frontend, busybox,
			}),
		},
		{
			Name: "worker-containerd-0",
			Labels: map[string]string{
				LabelWorkerRole:                    "",
				"topology.kubernetes.io/region":    "eu-west-1",
				"topology.kubernetes.io/zone":      "eu-west-1c",
				"node.kubernetes.io/instance-type": "m6i.2xlarge",
			},
			Runtime: Containerd,
			Images: []Image{
				newImage("registry.k8s.io/kube-proxy", "v1.37.2", 30.1, 2.5),
				newImage("docker.io/calico/node", "v3.30.3", 155, 2.6),
				newImage("docker.io/calico/cni", "v3.30.3", 91.4, 2.5),
				newImage("registry.k8s.io/coredns/coredns", "v1.12.1", 20.9, 2.9),
				newImage("registry.k8s.io/pause", "3.10", 0.31, 2.3),
				newImage("registry.k8s.io/ingress-nginx/controller", "", 104, 2.8),
				nginx, redis, python, checkout241, frontend, busybox, distroless,
			},
		},
	}
}

// Name parts from which GenerateNodes builds repositories.
var (
	generatedRegistries = []string{
		"quay.io", "docker.io", "ghcr.io", "registry.example.com", "registry.example.com:5000",
	}
	generatedTeams    = []string{"payments", "search", "identity", "platform", "data", "web"}
	generatedServices = []string{
		"api", "worker", "gateway", "indexer", "scheduler", "frontend", "batch", "exporter",
	}
)

// GenerateNodes returns count worker nodes with imagesPerNode images each, for scale tests.
// The same seed gives the same nodes. Images come from a shared pool in which a few images
// are on most nodes and most images on a few nodes. About one node in five runs containerd
// and the others CRI-O, about one image in ten has a digest name only, and about one in fifty
// is dangling. Each node's status is capped at DefaultMaxImages unless MaxImages is changed.
func GenerateNodes(count, imagesPerNode int, seed int64) []Node {
	if count <= 0 {
		return nil
	}
	imagesPerNode = max(imagesPerNode, 0)

	random := rand.New(rand.NewPCG(uint64(seed), 0x696d61676564))
	pool := generateImagePool(random, max(4*imagesPerNode, 100))

	nodes := make([]Node, 0, count)
	for i := range count {
		name := fmt.Sprintf("node-%05d", i)
		node := Node{
			Name: name,
			Labels: map[string]string{
				LabelWorkerRole:               "",
				"topology.kubernetes.io/zone": fmt.Sprintf("zone-%c", 'a'+i%3),
			},
			Runtime:    CRIO,
			InternalIP: fmt.Sprintf("127.%d.%d.%d", 16+i/65536, i/256%256, i%256),
			Images:     pickImages(random, pool, imagesPerNode),
		}
		if random.IntN(5) == 0 {
			node.Runtime = Containerd
		}
		nodes = append(nodes, node)
	}
	return nodes
}

func generateImagePool(random *rand.Rand, size int) []Image {
	const (
		minCompressed = 1 * mebibyte
		maxCompressed = 1536 * mebibyte
	)
	logMin, logMax := math.Log(minCompressed), math.Log(maxCompressed)

	pool := make([]Image, size)
	for i := range pool {
		repository := fmt.Sprintf("%s/%s/%s-%d",
			generatedRegistries[random.IntN(len(generatedRegistries))],
			generatedTeams[random.IntN(len(generatedTeams))],
			generatedServices[random.IntN(len(generatedServices))], i)
		// Sizes are log-uniform: small utility images are as common as large runtimes.
		compressed := math.Exp(logMin + random.Float64()*(logMax-logMin))
		ratio := 1.8 + 1.4*random.Float64()

		image := Image{
			Repository: repository,
			Digest: fmt.Sprintf("sha256:%016x%016x%016x%016x", random.Uint64(),
				random.Uint64(), random.Uint64(), random.Uint64()),
			CompressedSize:   int64(compressed),
			UncompressedSize: int64(compressed * ratio),
		}
		if random.IntN(10) != 0 {
			image.Tags = []string{fmt.Sprintf("v%d.%d.%d", 1+random.IntN(4), random.IntN(20),
				random.IntN(10))}
		}
		pool[i] = image
	}
	return pool
}

// pickImages draws count distinct images from pool. Squaring a uniform variable favours
// the start of the pool, so low-index images are on many nodes.
func pickImages(random *rand.Rand, pool []Image, count int) []Image {
	count = min(count, len(pool))
	chosen := make(map[int]bool, count)
	images := make([]Image, 0, count)
	for len(images) < count {
		u := random.Float64()
		index := int(u * u * float64(len(pool)))
		if chosen[index] {
			continue
		}
		chosen[index] = true

		image := pool[index]
		if random.IntN(50) == 0 {
			image.Dangling = true
		}
		images = append(images, image)
	}
	return images
}
