package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imagedist/terraform-provider-imagedist/internal/nodeimages"
)

const testAppDigest = "sha256:2222222222222222222222222222222222222222222222222222222222222222"

func nodeImagesSchema(t *testing.T) datasource.SchemaResponse {
	t.Helper()
	var resp datasource.SchemaResponse
	NewNodeImagesDataSource().Schema(context.Background(), datasource.SchemaRequest{}, &resp)
	if resp.Diagnostics.HasError() {
		t.Fatalf("Schema: %v", resp.Diagnostics)
	}
	return resp
}

func TestNodeImagesSchemaValid(t *testing.T) {
	resp := nodeImagesSchema(t)
	if diags := resp.Schema.ValidateImplementation(context.Background()); diags.HasError() {
		t.Fatalf("schema is invalid: %v", diags)
	}
	schemaType := resp.Schema.Type().TerraformType(context.Background())
	if _, err := nodeImagesTypesOf(schemaType); err != nil {
		t.Fatalf("state types from the schema: %v", err)
	}
}

// nodeImagesConfig returns a configuration value with the given attributes set and every
// other attribute null.
func nodeImagesConfig(t *testing.T, set map[string]tftypes.Value) tfsdk.Config {
	t.Helper()
	schema := nodeImagesSchema(t).Schema
	rootType := schema.Type().TerraformType(context.Background()).(tftypes.Object)
	attributes := map[string]tftypes.Value{}
	for name, attributeType := range rootType.AttributeTypes {
		attributes[name] = tftypes.NewValue(attributeType, nil)
	}
	for name, value := range set {
		attributes[name] = value
	}
	return tfsdk.Config{Schema: schema, Raw: tftypes.NewValue(rootType, attributes)}
}

// buildTestState runs the state builder over nodes and returns the state.
func buildTestState(t *testing.T, config tfsdk.Config, nodes ...*corev1.Node) tfsdk.State {
	t.Helper()
	ctx := context.Background()
	var model nodeImagesModel
	if diags := config.Get(ctx, &model); diags.HasError() {
		t.Fatalf("reading the configuration: %v", diags)
	}
	settings := model.settings()
	inventory, err := nodeimages.New(settings.options)
	if err != nil {
		t.Fatalf("nodeimages.New: %v", err)
	}
	for _, node := range nodes {
		inventory.Add(node)
	}

	value, diags := nodeImagesState(ctx, config.Raw, config.Schema.Type(), settings, inventory,
		nil)
	if diags.HasError() {
		t.Fatalf("nodeImagesState: %v", diags)
	}
	state := tfsdk.State{Schema: config.Schema}
	if diags := state.Set(ctx, value); diags.HasError() {
		t.Fatalf("State.Set: %v", diags)
	}

	var nodesInConfig types.List
	if diags := config.GetAttribute(ctx, path.Root("nodes"), &nodesInConfig); diags.HasError() {
		t.Fatalf("reading nodes from the configuration: %v", diags)
	}
	if !nodesInConfig.IsNull() {
		t.Errorf("building the state changed the configuration: nodes = %v", nodesInConfig)
	}
	return state
}

func testNode(name, runtime string, images ...corev1.ContainerImage) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{
			NodeInfo: corev1.NodeSystemInfo{ContainerRuntimeVersion: runtime},
			Images:   images,
		},
	}
}

func stateAttribute[T any](t *testing.T, state tfsdk.State, at path.Path) T {
	t.Helper()
	var value T
	if diags := state.GetAttribute(context.Background(), at, &value); diags.HasError() {
		t.Fatalf("reading %s: %v", at, diags)
	}
	return value
}

func TestNodeImagesStateFull(t *testing.T) {
	config := nodeImagesConfig(t, nil)
	state := buildTestState(t, config,
		testNode("worker-1", "",
			corev1.ContainerImage{Names: []string{"<none>@<none>", "<none>:<none>"},
				SizeBytes: 5}),
		testNode("worker-0", "cri-o://1.33.4",
			corev1.ContainerImage{
				Names:     []string{"quay.io/org/app@" + testAppDigest, "quay.io/org/app:v1"},
				SizeBytes: 100,
			}),
	)

	if got := stateAttribute[types.Int64](t, state, path.Root("page_size")); got.ValueInt64() !=
		nodeimages.DefaultPageSize {
		t.Errorf("page_size = %v, want the default %d", got, nodeimages.DefaultPageSize)
	}
	maxImages := stateAttribute[types.Int64](t, state, path.Root("node_status_max_images"))
	if maxImages.ValueInt64() != nodeimages.DefaultNodeStatusMaxImages {
		t.Errorf("node_status_max_images = %v, want the default", maxImages)
	}
	if got := stateAttribute[types.Int64](t, state, path.Root("node_count")); got.ValueInt64() != 2 {
		t.Errorf("node_count = %v, want 2", got)
	}

	node0 := path.Root("nodes").AtListIndex(0)
	if got := stateAttribute[types.String](t, state, node0.AtName("name")); got.ValueString() !=
		"worker-0" {
		t.Errorf("nodes[0].name = %v, want worker-0 (sorted)", got)
	}
	if got := stateAttribute[types.String](t, state, node0.AtName("container_runtime")); got.
		ValueString() != "cri-o" {
		t.Errorf("nodes[0].container_runtime = %v, want cri-o", got)
	}
	images := stateAttribute[map[string]int64](t, state, node0.AtName("images"))
	if len(images) != 1 || images["quay.io/org/app@"+testAppDigest] != 100 {
		t.Errorf("nodes[0].images = %v, want the digest reference with size 100", images)
	}

	node1 := path.Root("nodes").AtListIndex(1)
	if got := stateAttribute[types.String](t, state, node1.AtName("container_runtime")); !got.
		IsNull() {
		t.Errorf("runtime of a node without one = %v, want null", got)
	}
	if got := stateAttribute[types.String](t, state,
		node1.AtName("container_runtime_version")); !got.IsNull() {
		t.Errorf("runtime version of a node without one = %v, want null", got)
	}

	view := path.Root("image_nodes").AtListIndex(0)
	if got := stateAttribute[types.String](t, state, view.AtName("reference")); got.
		ValueString() != "quay.io/org/app@"+testAppDigest {
		t.Errorf("image_nodes[0].reference = %v", got)
	}
	digests := stateAttribute[[]string](t, state, view.AtName("digests"))
	if len(digests) != 1 || digests[0] != "quay.io/org/app@"+testAppDigest {
		t.Errorf("image_nodes[0].digests = %q", digests)
	}
	tags := stateAttribute[[]string](t, state, view.AtName("tags"))
	if len(tags) != 1 || tags[0] != "quay.io/org/app:v1" {
		t.Errorf("image_nodes[0].tags = %q", tags)
	}
	if got := stateAttribute[types.List](t, state, view.AtName("missing_on")); !got.IsNull() {
		t.Errorf("missing_on without images = %v, want null", got)
	}
}

func TestNodeImagesStatePlaceholderOnlyImage(t *testing.T) {
	config := nodeImagesConfig(t, nil)
	state := buildTestState(t, config,
		testNode("worker-0", "cri-o://1.33.4",
			corev1.ContainerImage{Names: []string{"quay.io/org/app:v1"}, SizeBytes: 100},
			corev1.ContainerImage{Names: []string{"<none>@<none>", "<none>:<none>"},
				SizeBytes: 5}),
	)

	node := path.Root("nodes").AtListIndex(0)
	images := stateAttribute[map[string]int64](t, state, node.AtName("images"))
	if len(images) != 1 || images["quay.io/org/app:v1"] != 100 {
		t.Errorf("images = %v, want only quay.io/org/app:v1", images)
	}
	if got := stateAttribute[types.Int64](t, state, node.AtName("image_count")); got.
		ValueInt64() != 2 {
		t.Errorf("image_count = %v, want 2 with the placeholder-only image", got)
	}
	if got := stateAttribute[types.Int64](t, state, node.AtName("total_size_bytes")); got.
		ValueInt64() != 105 {
		t.Errorf("total_size_bytes = %v, want 105 with the placeholder-only image", got)
	}
	if got := stateAttribute[types.List](t, state, path.Root("image_nodes")); len(got.
		Elements()) != 1 {
		t.Errorf("image_nodes = %v, want one entry, without the placeholder-only image", got)
	}
}

func TestNodeImagesStateTagsOfOneDigest(t *testing.T) {
	config := nodeImagesConfig(t, nil)
	digestName := "quay.io/org/app@" + testAppDigest
	state := buildTestState(t, config,
		testNode("worker-0", "cri-o://1.33.4",
			corev1.ContainerImage{Names: []string{digestName, "quay.io/org/app:v1"},
				SizeBytes: 100}),
		testNode("worker-1", "containerd://2.1.4",
			corev1.ContainerImage{Names: []string{"quay.io/org/app:v2", digestName},
				SizeBytes: 40}),
	)

	for i, size := range []int64{100, 40} {
		images := stateAttribute[map[string]int64](t, state,
			path.Root("nodes").AtListIndex(i).AtName("images"))
		if len(images) != 1 || images[digestName] != size {
			t.Errorf("nodes[%d].images = %v, want the digest reference with size %d", i,
				images, size)
		}
	}

	views := stateAttribute[types.List](t, state, path.Root("image_nodes"))
	if len(views.Elements()) != 1 {
		t.Fatalf("image_nodes = %v, want one entry for the digest", views)
	}
	view := path.Root("image_nodes").AtListIndex(0)
	if got := stateAttribute[[]string](t, state, view.AtName("tags")); len(got) != 2 ||
		got[0] != "quay.io/org/app:v1" || got[1] != "quay.io/org/app:v2" {
		t.Errorf("tags = %q, want both tags, sorted", got)
	}
	if got := stateAttribute[[]string](t, state, view.AtName("digests")); len(got) != 1 ||
		got[0] != digestName {
		t.Errorf("digests = %q, want [%s]", got, digestName)
	}
	if got := stateAttribute[types.List](t, state, view.AtName("node_names")); !got.IsNull() {
		t.Errorf("node_names without images = %v, want null", got)
	}
	if got := stateAttribute[types.Int64](t, state, view.AtName("node_count")); got.
		ValueInt64() != 2 {
		t.Errorf("node_count = %v, want 2", got)
	}
}

func TestNodeImagesStateSummaryWithImages(t *testing.T) {
	config := nodeImagesConfig(t, map[string]tftypes.Value{
		"images": tftypes.NewValue(tftypes.List{ElementType: tftypes.String},
			[]tftypes.Value{tftypes.NewValue(tftypes.String, "nginx")}),
		"summary_only": tftypes.NewValue(tftypes.Bool, true),
		"page_size":    tftypes.NewValue(tftypes.Number, 7),
	})
	state := buildTestState(t, config,
		testNode("worker-0", "containerd://2.1.4",
			corev1.ContainerImage{Names: []string{"docker.io/library/nginx:latest"}, SizeBytes: 9}),
		testNode("worker-1", "containerd://2.1.4"),
	)

	if got := stateAttribute[types.Int64](t, state, path.Root("page_size")); got.ValueInt64() != 7 {
		t.Errorf("page_size = %v, want the configured 7", got)
	}
	images := stateAttribute[types.Map](t, state, path.Root("nodes").AtListIndex(0).
		AtName("images"))
	if images.IsNull() || len(images.Elements()) != 0 {
		t.Errorf("nodes[0].images = %v, want an empty map with summary_only", images)
	}
	view := path.Root("image_nodes").AtListIndex(0)
	if got := stateAttribute[types.String](t, state, view.AtName("reference")); got.
		ValueString() != "docker.io/library/nginx:latest" {
		t.Errorf("reference = %v, want the normalized request", got)
	}
	if got := stateAttribute[types.List](t, state, view.AtName("node_names")); !got.IsNull() {
		t.Errorf("node_names with summary_only = %v, want null", got)
	}
	if got := stateAttribute[[]string](t, state, view.AtName("missing_on")); len(got) != 1 ||
		got[0] != "worker-1" {
		t.Errorf("missing_on = %q, want [worker-1]", got)
	}
	if got := stateAttribute[[]string](t, state, view.AtName("tags")); len(got) != 1 ||
		got[0] != "docker.io/library/nginx:latest" {
		t.Errorf("tags with images = %q, want the tag of the matching image", got)
	}
	if got := stateAttribute[[]string](t, state, view.AtName("digests")); len(got) != 0 {
		t.Errorf("digests with images = %q, want none: the image has no digest name", got)
	}
}

func TestNodeImagesStateFilteredImages(t *testing.T) {
	config := nodeImagesConfig(t, map[string]tftypes.Value{
		"images": tftypes.NewValue(tftypes.List{ElementType: tftypes.String},
			[]tftypes.Value{tftypes.NewValue(tftypes.String, "quay.io/org/app:v1")}),
	})
	state := buildTestState(t, config,
		testNode("worker-0", "cri-o://1.33.4",
			corev1.ContainerImage{Names: []string{"docker.io/library/nginx:1.27"},
				SizeBytes: 300},
			corev1.ContainerImage{
				Names:     []string{"quay.io/org/app:v1", "quay.io/org/app@" + testAppDigest},
				SizeBytes: 100,
			}),
		testNode("worker-1", "cri-o://1.33.4"),
	)

	// The key is the image's own reference, its digest name, not the requested tag.
	images := stateAttribute[map[string]int64](t, state,
		path.Root("nodes").AtListIndex(0).AtName("images"))
	if len(images) != 1 || images["quay.io/org/app@"+testAppDigest] != 100 {
		t.Errorf("nodes[0].images = %v, want only the requested image under its digest", images)
	}
	empty := stateAttribute[types.Map](t, state, path.Root("nodes").AtListIndex(1).
		AtName("images"))
	if empty.IsNull() || len(empty.Elements()) != 0 {
		t.Errorf("nodes[1].images = %v, want an empty map", empty)
	}
}

func TestNodeImagesSettingsDefaults(t *testing.T) {
	var model nodeImagesModel
	emptySet := tftypes.NewValue(tftypes.Set{ElementType: tftypes.String}, []tftypes.Value{})
	config := nodeImagesConfig(t, map[string]tftypes.Value{
		"names":                  emptySet,
		"node_status_max_images": tftypes.NewValue(tftypes.Number, -1),
	})
	if diags := config.Get(context.Background(), &model); diags.HasError() {
		t.Fatal(diags)
	}

	settings := model.settings()
	if !settings.byName {
		t.Error("an empty names set must select by name (no nodes), not all nodes")
	}
	if settings.pageSize != nodeimages.DefaultPageSize {
		t.Errorf("page size = %d, want %d", settings.pageSize, nodeimages.DefaultPageSize)
	}
	if settings.options.NodeStatusMaxImages != -1 {
		t.Errorf("max images = %d, want -1", settings.options.NodeStatusMaxImages)
	}
}

func validateString(v validator.String, value string) diag.Diagnostics {
	req := validator.StringRequest{Path: path.Root("test"), ConfigValue: types.StringValue(value)}
	var resp validator.StringResponse
	v.ValidateString(context.Background(), req, &resp)
	return resp.Diagnostics
}

func TestLabelSelectorValidator(t *testing.T) {
	for _, valid := range []string{
		"",
		"node-role.kubernetes.io/worker",
		"node-role.kubernetes.io/worker=",
		"zone=eu-west-1a,!gpu",
		"topology.kubernetes.io/zone in (eu-west-1a,eu-west-1b)",
	} {
		if diags := validateString(labelSelectorValidator{}, valid); diags.HasError() {
			t.Errorf("%q: unexpected error %v", valid, diags)
		}
	}
	for _, invalid := range []string{"zone in (a", "=value", "a b", "zone==a==b"} {
		if diags := validateString(labelSelectorValidator{}, invalid); !diags.HasError() {
			t.Errorf("%q: no error", invalid)
		}
	}
}

func TestImageReferenceValidator(t *testing.T) {
	for _, valid := range []string{
		"nginx", "nginx:1.27", "quay.io/org/app@" + testAppDigest, "localhost:5000/app:v1",
	} {
		if diags := validateString(imageReferenceValidator{}, valid); diags.HasError() {
			t.Errorf("%q: unexpected error %v", valid, diags)
		}
	}
	for _, invalid := range []string{
		"Nginx", "https://quay.io/org/app", "nginx@sha256:abc", "nginx:", "",
	} {
		diags := validateString(imageReferenceValidator{}, invalid)
		if !diags.HasError() {
			t.Errorf("%q: no error", invalid)
			continue
		}
		if summary := diags[0].Summary(); summary != "Invalid Image Reference" {
			t.Errorf("%q: summary %q", invalid, summary)
		}
	}
}

func TestNodeNameValidator(t *testing.T) {
	valid := "ip-10-0-1-23.eu-west-1.compute.internal"
	if diags := validateString(nodeNameValidator{}, valid); diags.HasError() {
		t.Errorf("unexpected error %v", diags)
	}
	for _, invalid := range []string{"Worker-0", "worker_0", ""} {
		if diags := validateString(nodeNameValidator{}, invalid); !diags.HasError() {
			t.Errorf("%q: no error", invalid)
		}
	}
}

func TestAddNodeReadError(t *testing.T) {
	forbiddenList := &nodeimages.RequestError{Verb: "list", Err: apierrors.NewForbidden(
		corev1.Resource("nodes"), "", errors.New(`User "reader" cannot list resource "nodes"`))}
	forbiddenGet := &nodeimages.RequestError{Verb: "get", Name: "worker-0",
		Err: apierrors.NewForbidden(corev1.Resource("nodes"), "worker-0",
			errors.New(`User "reader" cannot get resource "nodes"`))}
	expired := &nodeimages.ExpiredError{Err: apierrors.NewResourceExpired("too old")}

	cases := []struct {
		name      string
		err       error
		summary   string
		detail    []string
		attribute bool
	}{
		{"forbidden list", forbiddenList, "Unable to List Nodes",
			[]string{"may not list nodes", `resources ["nodes"]`, "ClusterRoleBinding",
				`cannot list resource "nodes"`}, false},
		{"forbidden get", forbiddenGet, "Unable to Get Node",
			[]string{"may not get nodes", `verbs ["get", "list"]`}, false},
		{"not found", &nodeimages.NotFoundError{Names: []string{"a", "b"}}, "Node Not Found",
			[]string{`"a" or "b"`}, true},
		{"expired twice", expired, "Unable to List Nodes",
			[]string{"raise page_size", "too old"}, false},
		{"path not found get", &nodeimages.RequestError{Verb: "get", Name: "worker-0",
			Err: pathNotFound("get", "nodes", "worker-0")}, "Unable to Get Node",
			[]string{`node "worker-0"`, "404 Not Found", "`host`", "/k8s"}, false},
		{"path not found list", &nodeimages.RequestError{Verb: "list",
			Err: pathNotFound("list", "nodes", "")}, "Unable to List Nodes",
			[]string{"the nodes", "404 Not Found", "`host`", "/k8s"}, false},
		{"other", &nodeimages.RequestError{Verb: "get", Name: "worker-0",
			Err: errors.New("connection refused")}, "Unable to Get Node",
			[]string{`node "worker-0"`, "connection refused"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var diags diag.Diagnostics
			addNodeReadError(&diags, tc.err)
			if len(diags) != 1 {
				t.Fatalf("got %d diagnostics, want 1", len(diags))
			}
			if diags[0].Summary() != tc.summary {
				t.Errorf("summary = %q, want %q", diags[0].Summary(), tc.summary)
			}
			for _, fragment := range tc.detail {
				if !strings.Contains(diags[0].Detail(), fragment) {
					t.Errorf("detail %q lacks %q", diags[0].Detail(), fragment)
				}
			}
			_, isAttribute := diags[0].(diag.DiagnosticWithPath)
			if isAttribute != tc.attribute {
				t.Errorf("attribute diagnostic = %v, want %v", isAttribute, tc.attribute)
			}
		})
	}
}

func TestWarnLargeInventory(t *testing.T) {
	nodes := []nodeimages.Node{
		{Name: "worker-0", Images: make([]nodeimages.Image, largeInventoryImages)},
	}
	var diags diag.Diagnostics
	warnLargeInventory(context.Background(), &diags, nodes)
	if len(diags) != 0 {
		t.Fatalf("got %v at the threshold, want no diagnostic", diags)
	}

	nodes = append(nodes, nodeimages.Node{Name: "worker-1", Images: make([]nodeimages.Image, 1)})
	warnLargeInventory(context.Background(), &diags, nodes)
	if len(diags) != 1 || diags[0].Severity() != diag.SeverityWarning {
		t.Fatalf("got %v above the threshold, want one warning", diags)
	}
	detail := diags[0].Detail()
	if counts := fmt.Sprintf("%d images of 2 nodes", largeInventoryImages+1); !strings.Contains(
		detail, counts) {
		t.Errorf("detail %q lacks the counts %q", detail, counts)
	}
	if !strings.Contains(detail, "summary_only") {
		t.Errorf("detail %q lacks the remedy", detail)
	}
}

// TestNodeImagesStateEmptyImages checks that images = [] selects no image of interest,
// rather than returning the whole inventory as when images is not set.
func TestNodeImagesStateEmptyImages(t *testing.T) {
	config := nodeImagesConfig(t, map[string]tftypes.Value{
		"images": tftypes.NewValue(tftypes.List{ElementType: tftypes.String},
			[]tftypes.Value{}),
	})
	state := buildTestState(t, config,
		testNode("worker-0", "containerd://2.1.4",
			corev1.ContainerImage{Names: []string{"docker.io/library/nginx:latest"}, SizeBytes: 9}),
	)

	images := stateAttribute[types.Map](t, state, path.Root("nodes").AtListIndex(0).
		AtName("images"))
	if len(images.Elements()) != 0 {
		t.Errorf("nodes[0].images = %v, want an empty map", images)
	}
	if got := stateAttribute[types.Int64](t, state, path.Root("nodes").AtListIndex(0).
		AtName("image_count")); got.ValueInt64() != 1 {
		t.Errorf("image_count = %v, want 1: the counts cover every image", got)
	}
	if views := stateAttribute[types.List](t, state, path.Root("image_nodes")); len(
		views.Elements()) != 0 {
		t.Errorf("image_nodes = %v, want an empty list", views)
	}
}

func TestUniqueImageReferencesValidator(t *testing.T) {
	list := types.ListValueMust(types.StringType, []attr.Value{
		types.StringValue("redis:7.4"),
		types.StringValue("nginx"),
		types.StringValue("docker.io/library/redis:7.4"),
		types.StringValue("nginx:latest"),
		types.StringUnknown(),
	})
	var resp validator.ListResponse
	uniqueImageReferencesValidator{}.ValidateList(context.Background(),
		validator.ListRequest{Path: path.Root("images"), ConfigValue: list}, &resp)

	if resp.Diagnostics.ErrorsCount() != 2 {
		t.Fatalf("diagnostics = %v, want two duplicates", resp.Diagnostics)
	}
	for _, want := range []string{"images[0] and images[2]", "images[1] and images[3]"} {
		found := false
		for _, diagnostic := range resp.Diagnostics {
			found = found || strings.Contains(diagnostic.Detail(), want)
		}
		if !found {
			t.Errorf("no diagnostic names %s: %v", want, resp.Diagnostics)
		}
	}
}
