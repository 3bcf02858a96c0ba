package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
	"github.com/imagedist/terraform-provider-imagedist/internal/nodeimages"
)

var (
	_ datasource.DataSource                     = &nodeImagesDataSource{}
	_ datasource.DataSourceWithConfigure        = &nodeImagesDataSource{}
	_ datasource.DataSourceWithConfigValidators = &nodeImagesDataSource{}
)

// nodeImagesDataSource is imagedist_node_images.
type nodeImagesDataSource struct {
	clients *kube.Clients
	// filesystemTimeout bounds each node's summary request; zero means
	// nodeimages.DefaultFilesystemTimeout. Tests shorten it.
	filesystemTimeout time.Duration
}

// nodeImagesModel is the configuration of imagedist_node_images. Read builds the state
// directly as a Terraform value, so the computed lists here stay unread.
type nodeImagesModel struct {
	LabelSelector       types.String `tfsdk:"label_selector"`
	Names               types.Set    `tfsdk:"names"`
	Images              types.List   `tfsdk:"images"`
	SummaryOnly         types.Bool   `tfsdk:"summary_only"`
	PageSize            types.Int64  `tfsdk:"page_size"`
	NodeStatusMaxImages types.Int64  `tfsdk:"node_status_max_images"`
	ImageFilesystem     types.Bool   `tfsdk:"image_filesystem"`
	ImageFilesystems    types.Map    `tfsdk:"image_filesystems"`
	NodeCount           types.Int64  `tfsdk:"node_count"`
	Nodes               types.List   `tfsdk:"nodes"`
	ImageNodes          types.List   `tfsdk:"image_nodes"`
}

// NewNodeImagesDataSource returns the imagedist_node_images data source.
func NewNodeImagesDataSource() datasource.DataSource {
	return &nodeImagesDataSource{}
}

func (d *nodeImagesDataSource) Metadata(
	_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse,
) {
	resp.TypeName = req.ProviderTypeName + "_node_images"
}

func (d *nodeImagesDataSource) Configure(
	_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse,
) {
	d.clients = clientsFromProviderData(req.ProviderData, &resp.Diagnostics)
}

func (d *nodeImagesDataSource) ConfigValidators(
	_ context.Context,
) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{
		datasourcevalidator.Conflicting(
			path.MatchRoot("label_selector"),
			path.MatchRoot("names"),
		),
	}
}

func (d *nodeImagesDataSource) Schema(
	_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse,
) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the container images that nodes have cached, as the " +
			"kubelets report them in `Node.status.images`: per node a map from image " +
			"reference to size, and per image its digest and tag names and how many nodes " +
			"have it. Set `images` to ask which nodes have each of those images and which " +
			"lack it; state then holds only the answer, which matters on large " +
			"clusters.\n\n" +
			"An image's reference is its first digest name, else its first tag name, " +
			"normalized, such as `quay.io/org/app@sha256:...` or " +
			"`docker.io/library/nginx:1.27`. Nodes key `nodes[*].images` by it, and " +
			"`image_nodes` lists its `digests` and `tags`, so a tag leads to the reference " +
			"to look up. An image that has no usable name, such as a dangling image that " +
			"the kubelet reports only as `<none>@<none>`, is in no map and in no " +
			"`image_nodes` entry, but counts in `image_count` and `total_size_bytes`.\n\n" +
			"The kubelet reports at most `nodeStatusMaxImages` images per node (" +
			fmt.Sprint(nodeimages.DefaultNodeStatusMaxImages) + " unless configured), " +
			"largest first, with at most 5 names each. Smaller images fall off a busy " +
			"node's list, so a missing image may still be cached there; such nodes have " +
			"`possibly_truncated` set.\n\n" +
			"Needs `get` and `list` on `nodes` (cluster-scoped). With `image_filesystem`, " +
			"also `get` on `nodes/proxy` and `list` on `events` and, on OpenShift, on " +
			"`kubeletconfigs` and `machineconfigpools`.",
		Attributes: map[string]schema.Attribute{
			"label_selector": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "A label selector that chooses the nodes, such as " +
					"`node-role.kubernetes.io/worker` or `topology.kubernetes.io/zone in " +
					"(eu-west-1a,eu-west-1b)`. All nodes when neither this nor `names` is " +
					"set. Conflicts with `names`.",
				Validators: []validator.String{labelSelectorValidator{}},
			},
			"names": schema.SetAttribute{
				Optional:    true,
				ElementType: types.StringType,
				MarkdownDescription: "The names of the nodes to read. A name that does not " +
					"exist is an error. An empty set selects no nodes. Conflicts with " +
					"`label_selector`.",
				Validators: []validator.Set{
					setvalidator.NoNullValues(),
					setvalidator.ValueStringsAre(nodeNameValidator{}),
				},
			},
			"images": schema.ListAttribute{
				Optional:    true,
				ElementType: types.StringType,
				MarkdownDescription: "Image references of interest, such as `nginx:1.27` or " +
					"`quay.io/org/app@sha256:...`. When set, each node's `images` holds " +
					"only the images that match one of them, still keyed by the image's " +
					"own reference, and `image_nodes` has one entry per reference, in this " +
					"order, with the nodes that lack it. An " +
					"image matches by its normalized name and tag, or by repository and " +
					"digest for a reference with a digest; never by substring, so `nginx` " +
					"means `docker.io/library/nginx:latest` and not `nginx-ingress`. An " +
					"empty list asks about no image: every map and `image_nodes` are " +
					"empty, as when the list comes out empty from a variable.",
				Validators: []validator.List{
					listvalidator.NoNullValues(),
					listvalidator.ValueStringsAre(imageReferenceValidator{}),
					uniqueImageReferencesValidator{},
				},
			},
			"summary_only": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "When true, each node's `images` is an empty map and " +
					"the `node_names` of each `image_nodes` entry is null. The counts, sizes, " +
					"`missing_on`, `digests` and `tags` stay. Use it on large clusters, where " +
					"the full inventory makes state large and plans slow: with `images`, " +
					"`missing_on` answers which nodes lack each image.",
			},
			"page_size": schema.Int64Attribute{
				Optional: true,
				Computed: true,
				MarkdownDescription: fmt.Sprintf("The number of nodes requested per list "+
					"page, from 1 to %d. Defaults to %d. A larger page needs fewer "+
					"requests, which helps when a list fails because its continue token "+
					"expired.", nodeimages.MaxPageSize, nodeimages.DefaultPageSize),
				Validators: []validator.Int64{
					int64validator.Between(1, nodeimages.MaxPageSize),
				},
			},
			"node_status_max_images": schema.Int64Attribute{
				Optional: true,
				Computed: true,
				MarkdownDescription: fmt.Sprintf("The kubelet's `nodeStatusMaxImages` "+
					"setting, to judge `possibly_truncated` by. Defaults to %d, the "+
					"kubelet's default; `-1` turns the flag off, as for kubelets "+
					"configured to report every image.",
					nodeimages.DefaultNodeStatusMaxImages),
				Validators: []validator.Int64{int64validator.AtLeast(-1)},
			},
			"node_count": schema.Int64Attribute{
				Computed:            true,
				MarkdownDescription: "The number of nodes read.",
			},
			"nodes":             nodesAttribute(),
			"image_nodes":       imageNodesAttribute(),
			"image_filesystem":  imageFilesystemAttribute(),
			"image_filesystems": imageFilesystemsAttribute(),
		},
	}
}

func nodesAttribute() schema.ListNestedAttribute {
	return schema.ListNestedAttribute{
		Computed:            true,
		MarkdownDescription: "The selected nodes, sorted by name.",
		NestedObject: schema.NestedAttributeObject{
			Attributes: map[string]schema.Attribute{
				"name": schema.StringAttribute{
					Computed:            true,
					MarkdownDescription: "The node name.",
				},
				"container_runtime": schema.StringAttribute{
					Computed: true,
					MarkdownDescription: "The container runtime, such as `cri-o` or " +
						"`containerd`: the scheme of `container_runtime_version`. Null " +
						"when the node reports no scheme.",
				},
				"container_runtime_version": schema.StringAttribute{
					Computed: true,
					MarkdownDescription: "`status.nodeInfo.containerRuntimeVersion` as " +
						"reported, such as `cri-o://1.33.4`. Null when empty.",
				},
				"image_count": schema.Int64Attribute{
					Computed: true,
					MarkdownDescription: "The number of images the node reports, including " +
						"those missing from its `images` map: images without a usable name, " +
						"and those that the `images` argument does not match.",
				},
				"total_size_bytes": schema.Int64Attribute{
					Computed: true,
					MarkdownDescription: "The sum of the sizes of every image the node " +
						"reports, as counted by `image_count`. Layers shared between images " +
						"count once per image. " +
						"Negative sizes count as 0, and the sum stops at " +
						"9223372036854775807, the largest 64-bit integer, instead of " +
						"overflowing.",
				},
				"possibly_truncated": schema.BoolAttribute{
					Computed: true,
					MarkdownDescription: "Whether the node reports exactly " +
						"`node_status_max_images` images: the kubelet's cap, so smaller " +
						"images may be cached but missing from the list.",
				},
				"images": nodeImagesMapAttribute(),
			},
		},
	}
}

func nodeImagesMapAttribute() schema.MapAttribute {
	return schema.MapAttribute{
		Computed:    true,
		ElementType: types.Int64Type,
		MarkdownDescription: "The node's images: a map from each image's own reference " +
			"(its first digest name, else its first tag name, normalized) to its size in " +
			"bytes as the runtime reports it. Without `images`, these are the references " +
			"of `image_nodes`. With `images`, a key is not the requested reference: the " +
			"`digests` and `tags` of each `image_nodes` entry list the names of the images " +
			"that match it, among them their keys. " +
			"Sizes are uncompressed bytes on CRI-O (OpenShift) and compressed bytes on " +
			"containerd, so the same image differs between runtimes. Only the images " +
			"matching `images` when it is set. An empty map when `summary_only` is true. " +
			"Images without a usable name are left out. Of two images with one " +
			"reference, the map has the size of the first the node lists, which is the " +
			"larger as the kubelet sorts images. Use `keys(node.images)` for the " +
			"references, `contains(keys(node.images), ref)` to test for one, and " +
			"`lookup(node.images, ref, 0)` for its size, with `ref` taken from " +
			"`image_nodes`.",
	}
}

func imageNodesAttribute() schema.ListNestedAttribute {
	return schema.ListNestedAttribute{
		Computed: true,
		MarkdownDescription: "The nodes per image. With `images` set, one entry per " +
			"reference in the order given, including references on no node. Otherwise " +
			"one entry per distinct image, sorted by `reference`.",
		NestedObject: schema.NestedAttributeObject{
			Attributes: map[string]schema.Attribute{
				"reference": schema.StringAttribute{
					Computed: true,
					MarkdownDescription: "The normalized reference: of the requested " +
						"reference, such as `docker.io/library/nginx:latest` for `nginx`, " +
						"or else of the image's first digest name, or its first tag name " +
						"when it has none.",
				},
				"node_names": schema.ListAttribute{
					Computed:    true,
					ElementType: types.StringType,
					MarkdownDescription: "The selected nodes that have the image, sorted, " +
						"when `images` is set and `summary_only` is not. Null otherwise: for " +
						"every image of a fleet these lists would repeat what each node's " +
						"`images` map already says, and at 5,000 nodes of 50 images they would add " +
						"250,000 values to the state. To find the nodes of one image, list it " +
						"in `images`.",
				},
				"node_count": schema.Int64Attribute{
					Computed:            true,
					MarkdownDescription: "The number of selected nodes that have the image.",
				},
				"digests": schema.ListAttribute{
					Computed:    true,
					ElementType: types.StringType,
					MarkdownDescription: "Every digest name that a selected node reports for " +
						"the image, fully qualified, such as `quay.io/org/app@sha256:...`, " +
						"sorted and without duplicates. With `images`, the digest names of " +
						"the images that match the reference, which are the keys of the " +
						"nodes' `images` maps.",
				},
				"tags": schema.ListAttribute{
					Computed:    true,
					ElementType: types.StringType,
					MarkdownDescription: "Every tag name that a selected node reports for the " +
						"image, fully qualified, such as `docker.io/library/nginx:1.27`, " +
						"sorted and without duplicates. Nodes that pulled one digest under " +
						"different tags, such as `1.27` on one node and `latest` on another, " +
						"report different tags, and all of them are listed. With `images`, " +
						"the tag names of the images that match the reference.",
				},
				"missing_on": schema.ListAttribute{
					Computed:    true,
					ElementType: types.StringType,
					MarkdownDescription: "The selected nodes that lack the requested image, " +
						"sorted. A node with `possibly_truncated` set may have it cached " +
						"all the same. Null when `images` is not set.",
				},
			},
		},
	}
}

func (d *nodeImagesDataSource) Read(
	ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse,
) {
	var config nodeImagesModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}

	settings := config.settings()
	inventory, err := nodeimages.New(settings.options)
	if err != nil {
		// The attribute validator already rejected invalid references at plan time.
		resp.Diagnostics.AddAttributeError(path.Root("images"), "Invalid Image Reference",
			err.Error())
		return
	}

	reader, err := d.nodeReader(ctx, settings)
	if err != nil {
		addClientError(&resp.Diagnostics, err)
		return
	}

	tflog.Debug(ctx, "Reading node images", settings.logFields())
	if err := settings.read(ctx, reader, inventory); err != nil {
		addNodeReadError(&resp.Diagnostics, err)
		return
	}
	tflog.Debug(ctx, "Read node images", map[string]any{"node_count": inventory.NodeCount()})
	warnLargeInventory(ctx, &resp.Diagnostics, inventory.Nodes())

	var filesystems map[string]*nodeFilesystem
	if settings.imageFilesystem {
		filesystems = d.readImageFilesystems(ctx, inventory.Nodes(), &resp.Diagnostics)
	}

	state, diags := nodeImagesState(ctx, req.Config.Raw, resp.State.Schema.Type(), settings,
		inventory, filesystems)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, state)...)
}

// largeInventoryImages is the number of per-node image entries above which Read warns. The
// plugin framework and Terraform copy, compare and encode every value of the state, and each
// entry adds a map element to its node and a node name to its image_nodes entry. Measured
// with BenchmarkNodeInventory (internal/benchmarks) on a shared 2-core machine, 250,000
// entries (5,000 nodes with 50 images) took about 2 s and 250 MiB for the provider's read,
// 7.6 s for terraform plan, and made a state of 30 MiB. 100,000 entries are about 40% of that.
const largeInventoryImages = 100000

// warnLargeInventory adds a warning when the state would hold more image entries than
// largeInventoryImages, with the settings that avoid it.
func warnLargeInventory(ctx context.Context, diags *diag.Diagnostics, nodes []nodeimages.Node) {
	entries := 0
	for i := range nodes {
		entries += len(nodes[i].Images)
	}
	if entries <= largeInventoryImages {
		return
	}

	tflog.Warn(ctx, "Large node image inventory", map[string]any{
		"node_count": len(nodes), "image_entries": entries,
	})
	diags.AddWarning("Large Node Image Inventory",
		fmt.Sprintf("The data source holds %d images of %d nodes, which makes reads slow "+
			"and the state large. Set images to the references of interest, set "+
			"summary_only = true, or select fewer nodes with label_selector or names.",
			entries, len(nodes)))
}

// nodeReader builds a protobuf client for the nodes from the provider's connection.
func (d *nodeImagesDataSource) nodeReader(
	ctx context.Context, settings nodeImagesSettings,
) (*nodeimages.Reader, error) {
	if d.clients == nil {
		return nil, errors.New("the provider was not configured")
	}
	config, err := d.clients.REST()
	if err != nil {
		return nil, err
	}
	client, err := nodeimages.NewNodeClient(config)
	if err != nil {
		return nil, err
	}

	return &nodeimages.Reader{
		Nodes:    client,
		PageSize: settings.pageSize,
		OnRestart: func(err error) {
			tflog.Debug(ctx, "Restarting the node list from the beginning because its "+
				"continue token expired", map[string]any{"error": err.Error()})
		},
	}, nil
}

// nodeImagesSettings is the configuration with defaults applied.
type nodeImagesSettings struct {
	labelSelector string
	byName        bool
	names         []string
	pageSize      int64
	options       nodeimages.Options
	// imageFilesystem turns on the node proxy look-up of image filesystems.
	imageFilesystem bool
}

func (m *nodeImagesModel) settings() nodeImagesSettings {
	settings := nodeImagesSettings{
		labelSelector:   m.LabelSelector.ValueString(),
		byName:          !m.Names.IsNull(),
		names:           stringElements(m.Names),
		pageSize:        nodeimages.DefaultPageSize,
		imageFilesystem: m.ImageFilesystem.ValueBool(),
		options: nodeimages.Options{
			Images:              stringElements(m.Images),
			Filter:              !m.Images.IsNull(),
			SummaryOnly:         m.SummaryOnly.ValueBool(),
			NodeStatusMaxImages: nodeimages.DefaultNodeStatusMaxImages,
			KeepLabels:          m.ImageFilesystem.ValueBool(),
		},
	}
	if !m.PageSize.IsNull() {
		settings.pageSize = m.PageSize.ValueInt64()
	}
	if !m.NodeStatusMaxImages.IsNull() {
		settings.options.NodeStatusMaxImages = int(m.NodeStatusMaxImages.ValueInt64())
	}
	return settings
}

func (s nodeImagesSettings) read(
	ctx context.Context, reader *nodeimages.Reader, inventory *nodeimages.Inventory,
) error {
	if s.byName {
		return reader.ReadNamed(ctx, s.names, inventory)
	}
	return reader.ReadAll(ctx, s.labelSelector, inventory)
}

func (s nodeImagesSettings) logFields() map[string]any {
	return map[string]any{
		"label_selector":         s.labelSelector,
		"names":                  s.names,
		"images":                 s.options.Images,
		"summary_only":           s.options.SummaryOnly,
		"page_size":              s.pageSize,
		"node_status_max_images": s.options.NodeStatusMaxImages,
		"image_filesystem":       s.imageFilesystem,
	}
}

// addNodeReadError adds a diagnostic for a failed node read, with the next step to take.
func addNodeReadError(diags *diag.Diagnostics, err error) {
	var notFound *nodeimages.NotFoundError
	if errors.As(err, &notFound) {
		diags.AddAttributeError(path.Root("names"), "Node Not Found",
			fmt.Sprintf("No node named %s exists. Check the names in names; `kubectl get "+
				"nodes` lists the cluster's nodes.", joinQuotedNames(notFound.Names)))
		return
	}

	var expired *nodeimages.ExpiredError
	if errors.As(err, &expired) {
		addAPIError(diags, "Unable to List Nodes",
			"The node list's continue token expired twice before the last page was read, "+
				"because the nodes changed faster than the pages could be read. Retry, or "+
				"raise page_size so that the list needs fewer requests.", expired.Err)
		return
	}

	verb, name := "list", ""
	var request *nodeimages.RequestError
	if errors.As(err, &request) {
		verb, name = request.Verb, request.Name
	}
	summary := "Unable to List Nodes"
	if verb == "get" {
		summary = "Unable to Get Node"
	}
	// A denied path means a wrong host, not a missing rule, and addAPIError below adds the
	// advice to check the host.
	if apierrors.IsForbidden(err) && !isPathForbidden(err) {
		addPermissionError(diags, summary, fmt.Sprintf("The provider's credentials may not %s "+
			"nodes. Nodes are cluster-scoped, so grant a ClusterRole with the rule "+
			"apiGroups [\"\"], resources [\"nodes\"], verbs [\"get\", \"list\"] through a "+
			"ClusterRoleBinding to the user or service account that runs Terraform.", verb),
			err)
		return
	}

	detail := "Reading the nodes from the API server failed. Check that the cluster is " +
		"reachable and retry."
	object := "the nodes"
	if name != "" {
		detail = fmt.Sprintf("Reading node %q from the API server failed. Check that the "+
			"cluster is reachable and retry.", name)
		object = fmt.Sprintf("node %q", name)
	}
	addAPIError(diags, summary, failureDetail(detail, object, err), err)
}

// joinQuotedNames joins names as `"a", "b" or "c"`.
func joinQuotedNames(names []string) string {
	quoted := make([]string, len(names))
	for i, name := range names {
		quoted[i] = fmt.Sprintf("%q", name)
	}
	if len(quoted) == 1 {
		return quoted[0]
	}
	return strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
}
