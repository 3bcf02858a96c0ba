package provider

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
	"github.com/imagedist/terraform-provider-imagedist/internal/kubeletgc"
	"github.com/imagedist/terraform-provider-imagedist/internal/nodeimages"
	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

// filesystemFleet is three seeded nodes, each with a kubelet summary server on loopback,
// reached through a testcluster.NodeProxy in front of the API server.
type filesystemFleet struct {
	t          *testing.T
	suite      string
	nodes      []testcluster.Node
	summaries  *testcluster.KubeletSummaries
	proxy      *testcluster.NodeProxy
	kubeconfig string
}

const filesystemSuiteLabel = "imagedist.test/filesystem-suite"

func newFilesystemFleet(t *testing.T) *filesystemFleet {
	t.Helper()
	client := acceptanceClient(t)
	suite := acctest.RandomWithPrefix("fs")
	labels := map[string]string{filesystemSuiteLabel: suite}
	var nodes []testcluster.Node
	for _, suffix := range []string{"a", "b", "c"} {
		nodes = append(nodes, testcluster.Node{
			Name: suite + "-" + suffix, Labels: labels, Runtime: testcluster.CRIO,
			Images: []testcluster.Image{fleetNginx, fleetApp},
		})
	}

	summaries, served, err := testcluster.StartKubeletSummaries(nodes, nil)
	if err != nil {
		t.Fatalf("starting the kubelet summary servers: %v", err)
	}
	t.Cleanup(summaries.Close)
	ctx := context.Background()
	t.Cleanup(func() {
		for _, node := range served {
			_ = client.CoreV1().Nodes().Delete(ctx, node.Name, metav1.DeleteOptions{})
		}
	})
	if err := testcluster.SeedNodes(ctx, client, served); err != nil {
		t.Fatalf("seeding nodes: %v", err)
	}

	admin, err := testcluster.RESTConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := testcluster.StartNodeProxy(admin, summaries)
	if err != nil {
		t.Fatalf("starting the node proxy: %v", err)
	}
	t.Cleanup(proxy.Close)
	// In the least-privilege mode the provider's configuration carries the service
	// account's token, which the proxy passes on; otherwise it adds the admin's certificate.
	provider, err := testcluster.ProviderRESTConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := proxy.WriteKubeconfig(kubeconfig, provider.BearerToken); err != nil {
		t.Fatal(err)
	}
	return &filesystemFleet{t: t, suite: suite, nodes: served, summaries: summaries,
		proxy: proxy, kubeconfig: kubeconfig}
}

func (f *filesystemFleet) config(imageFilesystem string) string {
	return fmt.Sprintf(`
provider "imagedist" {
  config_path    = %q
  config_context = %q
}

data "imagedist_node_images" "test" {
  label_selector   = "%s=%s"
  summary_only     = true
  image_filesystem = %s
}
`, f.kubeconfig, testcluster.NodeProxyContext, filesystemSuiteLabel, f.suite, imageFilesystem)
}

// addPool creates a machine config pool for the fleet and a KubeletConfig for it with the
// given high threshold, and deletes both when the test ends.
func (f *filesystemFleet) addPool(highThreshold int) {
	f.t.Helper()
	client := acceptanceDynamicClient(f.t)
	ctx := context.Background()
	poolLabel := kubeletgc.PoolLabelPrefix + f.suite
	pool := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineConfigPool",
		"metadata": map[string]any{"name": f.suite, "labels": map[string]any{poolLabel: ""}},
		"spec": map[string]any{
			"nodeSelector": map[string]any{"matchLabels": map[string]any{
				filesystemSuiteLabel: f.suite,
			}},
			"machineConfigSelector": map[string]any{"matchLabels": map[string]any{
				"machineconfiguration.openshift.io/role": f.suite,
			}},
		},
	}}
	config := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "machineconfiguration.openshift.io/v1", "kind": "KubeletConfig",
		"metadata": map[string]any{"name": f.suite},
		"spec": map[string]any{
			"machineConfigPoolSelector": map[string]any{"matchLabels": map[string]any{
				poolLabel: "",
			}},
			"kubeletConfig": map[string]any{
				kubeletgc.KeyHighThresholdPercent: int64(highThreshold),
			},
		},
	}}
	f.t.Cleanup(func() {
		_ = client.Resource(kubeletConfigGVR).Delete(ctx, f.suite, metav1.DeleteOptions{})
		_ = client.Resource(machineConfigPoolGVR).Delete(ctx, f.suite, metav1.DeleteOptions{})
	})
	if _, err := client.Resource(machineConfigPoolGVR).Create(ctx, pool,
		metav1.CreateOptions{}); err != nil {
		f.t.Fatalf("creating machine config pool %s: %v", f.suite, err)
	}
	if _, err := client.Resource(kubeletConfigGVR).Create(ctx, config,
		metav1.CreateOptions{}); err != nil {
		f.t.Fatalf("creating KubeletConfig %s: %v", f.suite, err)
	}
}

// addGCFailure records a kubelet ImageGCFailed event about the node, repeated count times.
func (f *filesystemFleet) addGCFailure(node, message string, count int32) {
	f.t.Helper()
	client := acceptanceClient(f.t)
	ctx := context.Background()
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	event := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: node + ".gc", Namespace: metav1.NamespaceDefault},
		InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: node, UID: "",
			APIVersion: "v1"},
		Reason: nodeimages.ReasonImageGCFailed, Message: message,
		Type: corev1.EventTypeWarning, Count: count, FirstTimestamp: now, LastTimestamp: now,
		Source: corev1.EventSource{Component: "kubelet", Host: node},
	}
	f.t.Cleanup(func() {
		_ = client.CoreV1().Events(metav1.NamespaceDefault).Delete(ctx, event.Name,
			metav1.DeleteOptions{})
	})
	if _, err := client.CoreV1().Events(metav1.NamespaceDefault).Create(ctx, event,
		metav1.CreateOptions{}); err != nil {
		f.t.Fatalf("creating event %s: %v", event.Name, err)
	}
}

// expectedFigures returns the node's figures as the summary server reports them.
func expectedFigures(node testcluster.Node) (testcluster.ImageFilesystem, int64) {
	figures := testcluster.DefaultImageFilesystem(node)
	percent, _ := nodeimages.ImageFilesystem{
		CapacityBytes: &figures.CapacityBytes, AvailableBytes: &figures.AvailableBytes,
	}.UsedPercent()
	return figures, percent
}

// TestAccNodeImagesFilesystem reads the image filesystems of three nodes, one of whose
// kubelets is down: the two others have their figures, threshold, headroom and GC failures,
// and the third has null figures but its threshold.
func TestAccNodeImagesFilesystem(t *testing.T) {
	fleet := newFilesystemFleet(t)
	fleet.addPool(80)
	nodeA, nodeB, nodeC := fleet.nodes[0], fleet.nodes[1], fleet.nodes[2]
	fleet.addGCFailure(nodeB.Name, "Image garbage collection failed once: wanted to free "+
		"10737418240 bytes, but freed 0 bytes", 3)
	fleet.summaries.Stop(nodeC.Name)

	const name = "data.imagedist_node_images.test"
	attribute := func(node, key string) string {
		return "image_filesystems." + node + "." + key
	}
	figuresA, percentA := expectedFigures(nodeA)
	_, percentB := expectedFigures(nodeB)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{{
			Config: fleet.config("true"),
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr(name, "image_filesystems.%", "3"),
				resource.TestCheckResourceAttr(name, attribute(nodeA.Name, "capacity_bytes"),
					strconv.FormatUint(figuresA.CapacityBytes, 10)),
				resource.TestCheckResourceAttr(name, attribute(nodeA.Name, "available_bytes"),
					strconv.FormatUint(figuresA.AvailableBytes, 10)),
				resource.TestCheckResourceAttr(name, attribute(nodeA.Name, "used_bytes"),
					strconv.FormatUint(figuresA.UsedBytes, 10)),
				resource.TestCheckResourceAttr(name, attribute(nodeA.Name, "inodes"),
					strconv.FormatUint(figuresA.Inodes, 10)),
				resource.TestCheckResourceAttr(name, attribute(nodeA.Name, "inodes_free"),
					strconv.FormatUint(figuresA.InodesFree, 10)),
				resource.TestCheckResourceAttr(name, attribute(nodeA.Name, "inodes_used"),
					strconv.FormatUint(figuresA.InodesUsed, 10)),
				resource.TestCheckResourceAttr(name, attribute(nodeA.Name, "used_percent"),
					strconv.FormatInt(percentA, 10)),
				resource.TestCheckResourceAttr(name, attribute(nodeA.Name, "gc_pool"),
					fleet.suite),
				resource.TestCheckResourceAttr(name,
					attribute(nodeA.Name, "gc_high_threshold_percent"), "80"),
				resource.TestCheckResourceAttr(name,
					attribute(nodeA.Name, "gc_headroom_percent"),
					strconv.FormatInt(80-percentA, 10)),
				resource.TestCheckResourceAttr(name, attribute(nodeA.Name, "gc_failure_count"),
					"0"),
				resource.TestCheckNoResourceAttr(name,
					attribute(nodeA.Name, "gc_last_failure_message")),

				resource.TestCheckResourceAttr(name, attribute(nodeB.Name, "used_percent"),
					strconv.FormatInt(percentB, 10)),
				resource.TestCheckResourceAttr(name, attribute(nodeB.Name, "gc_failure_count"),
					"3"),
				resource.TestMatchResourceAttr(name,
					attribute(nodeB.Name, "gc_last_failure_message"),
					regexp.MustCompile(`^Image garbage collection failed once`)),
				resource.TestMatchResourceAttr(name,
					attribute(nodeB.Name, "gc_last_failure_time"),
					regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)),

				resource.TestCheckNoResourceAttr(name, attribute(nodeC.Name, "capacity_bytes")),
				resource.TestCheckNoResourceAttr(name, attribute(nodeC.Name, "used_percent")),
				resource.TestCheckNoResourceAttr(name,
					attribute(nodeC.Name, "gc_headroom_percent")),
				resource.TestCheckResourceAttr(name,
					attribute(nodeC.Name, "gc_high_threshold_percent"), "80"),
			),
		}},
	})
}

// TestAccNodeImagesFilesystemOff reads the fleet without image_filesystem: the map is null
// and no request reaches the node proxy or a kubelet.
func TestAccNodeImagesFilesystemOff(t *testing.T) {
	fleet := newFilesystemFleet(t)

	const name = "data.imagedist_node_images.test"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviderFactories,
		Steps: []resource.TestStep{{
			Config: fleet.config("false"),
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr(name, "node_count", "3"),
				resource.TestCheckNoResourceAttr(name, "image_filesystems.%"),
			),
		}},
	})

	if count := fleet.proxy.SummaryRequests(); count != 0 {
		t.Errorf("the node proxy received %d summary requests, expected none", count)
	}
	for node, count := range fleet.summaries.Requests() {
		if count != 0 {
			t.Errorf("the kubelet of %s received %d requests, expected none", node, count)
		}
	}
}

// readFilesystems runs the data source's Read with image_filesystem on, for the fleet's
// nodes, as the identity in kubeconfig, and returns the diagnostics and the state.
func (f *filesystemFleet) readFilesystems(kubeconfig string) (diag.Diagnostics, tfsdk.State) {
	f.t.Helper()
	config := nodeImagesConfig(f.t, map[string]tftypes.Value{
		"label_selector":   tftypes.NewValue(tftypes.String, filesystemSuiteLabel+"="+f.suite),
		"summary_only":     tftypes.NewValue(tftypes.Bool, true),
		"image_filesystem": tftypes.NewValue(tftypes.Bool, true),
	})
	source := &nodeImagesDataSource{
		clients:           kube.NewClients(kube.Config{ConfigPaths: []string{kubeconfig}}, "test"),
		filesystemTimeout: 2 * time.Second,
	}
	request := datasource.ReadRequest{Config: config}
	response := datasource.ReadResponse{State: tfsdk.State{Schema: config.Schema}}
	source.Read(context.Background(), request, &response)
	return response.Diagnostics, response.State
}

// TestAccNodeImagesFilesystemTimeoutWarning checks that a node that never responds gives null
// figures and one warning that names it and the reason, and no error.
func TestAccNodeImagesFilesystemTimeoutWarning(t *testing.T) {
	fleet := newFilesystemFleet(t)
	hung := fleet.nodes[1].Name
	fleet.summaries.Hang(hung)

	diags, state := fleet.readFilesystems(fleet.kubeconfig)

	if diags.HasError() {
		t.Fatalf("Read failed: %v", diags)
	}
	warnings := diags.Warnings()
	if len(warnings) != 1 {
		t.Fatalf("warnings = %v, expected one", warnings)
	}
	detail := warnings[0].Detail()
	if warnings[0].Summary() != "Image Filesystem Not Read" {
		t.Errorf("summary = %q, expected Image Filesystem Not Read", warnings[0].Summary())
	}
	if !strings.Contains(detail, "1 of 3 nodes") {
		t.Errorf("detail does not count 1 of 3 nodes: %s", detail)
	}
	if !strings.Contains(detail, "timed out: "+hung+".") {
		t.Errorf("detail does not name %s as timed out: %s", hung, detail)
	}
	filesystems := stateFilesystems(t, state)
	if capacity := filesystems[hung].Attributes()["capacity_bytes"]; !capacity.IsNull() {
		t.Errorf("capacity_bytes of %s = %s, expected null", hung, capacity)
	}
	answered := fleet.nodes[0].Name
	if capacity := filesystems[answered].Attributes()["capacity_bytes"]; capacity.IsNull() {
		t.Errorf("capacity_bytes of %s is null, expected its figure", answered)
	}
}

// stateFilesystems returns image_filesystems from the state.
func stateFilesystems(t *testing.T, state tfsdk.State) map[string]types.Object {
	t.Helper()
	var filesystems map[string]types.Object
	if diags := state.GetAttribute(context.Background(), path.Root("image_filesystems"),
		&filesystems); diags.HasError() {
		t.Fatalf("reading image_filesystems: %v", diags)
	}
	return filesystems
}

// TestAccNodeImagesFilesystemForbidden reads as a service account whose role lacks
// nodes/proxy: every node has null figures, and one warning names the missing rule.
func TestAccNodeImagesFilesystemForbidden(t *testing.T) {
	fleet := newFilesystemFleet(t)
	identity := newDeniedIdentity(t, "", "nodes/proxy", "get")
	loaded, err := clientcmd.LoadFromFile(identity.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	auth := loaded.AuthInfos[loaded.Contexts[testcluster.LeastPrivilegeContext].AuthInfo]
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := fleet.proxy.WriteKubeconfig(kubeconfig, auth.Token); err != nil {
		t.Fatal(err)
	}

	diags, state := fleet.readFilesystems(kubeconfig)

	if diags.HasError() {
		t.Fatalf("Read failed: %v", diags)
	}
	warnings := diags.Warnings()
	if len(warnings) != 1 {
		t.Fatalf("warnings = %v, expected one", warnings)
	}
	detail := warnings[0].Detail()
	for _, expected := range []string{"3 of 3 nodes", "forbidden: ", fleet.nodes[0].Name,
		`resources ["nodes/proxy"]`, "image_filesystem = false"} {
		if !strings.Contains(detail, expected) {
			t.Errorf("detail does not contain %q: %s", expected, detail)
		}
	}
	filesystems := stateFilesystems(t, state)
	if len(filesystems) != 3 {
		t.Errorf("image_filesystems has %d entries, expected 3", len(filesystems))
	}
	for node, filesystem := range filesystems {
		if capacity := filesystem.Attributes()["capacity_bytes"]; !capacity.IsNull() {
			t.Errorf("capacity_bytes of %s = %s, expected null", node, capacity)
		}
	}
	if count := fleet.proxy.SummaryRequests(); count != 3 {
		t.Errorf("the node proxy received %d summary requests, expected 3", count)
	}
	for node, count := range fleet.summaries.Requests() {
		if count != 0 {
			t.Errorf("the kubelet of %s received %d requests, expected none", node, count)
		}
	}
}
