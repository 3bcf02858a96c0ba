package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
	"github.com/imagedist/terraform-provider-imagedist/internal/pullevents"
)

var (
	_ datasource.DataSource              = &imagePullsDataSource{}
	_ datasource.DataSourceWithConfigure = &imagePullsDataSource{}
)

// imagePullsDataSource is imagedist_image_pulls.
type imagePullsDataSource struct {
	clients *kube.Clients
	// now returns the time that since is measured back from.
	now func() time.Time
}

// imagePullsModel is the configuration and state of imagedist_image_pulls.
type imagePullsModel struct {
	Namespace      types.String `tfsdk:"namespace"`
	Images         types.List   `tfsdk:"images"`
	NodeNames      types.List   `tfsdk:"node_names"`
	Since          types.String `tfsdk:"since"`
	ImagePulls     types.List   `tfsdk:"image_pulls"`
	Pulls          types.Int64  `tfsdk:"pulls"`
	AlreadyPresent types.Int64  `tfsdk:"already_present"`
	Failures       types.Int64  `tfsdk:"failures"`
	BackOffs       types.Int64  `tfsdk:"back_offs"`
	EventCount     types.Int64  `tfsdk:"event_count"`
}

// NewImagePullsDataSource returns the imagedist_image_pulls data source.
func NewImagePullsDataSource() datasource.DataSource {
	return &imagePullsDataSource{now: time.Now}
}

func (d *imagePullsDataSource) Metadata(
	_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse,
) {
	resp.TypeName = req.ProviderTypeName + "_image_pulls"
}

func (d *imagePullsDataSource) Configure(
	_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse,
) {
	d.clients = clientsFromProviderData(req.ProviderData, &resp.Diagnostics)
}

func (d *imagePullsDataSource) Schema(
	_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse,
) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Sums the kubelet's image pull events per image and node: " +
			"successful pulls and how long they took, images already present on the node, " +
			"failed attempts and back-offs. Use it to see what pre-pulling saved, or which " +
			"nodes fail to pull an image.\n\n" +
			"It reads the core/v1 Events about pods. The API server keeps events for one " +
			"hour by default (kube-apiserver `--event-ttl`), so only recent pulls are seen.\n\n" +
			"The kubelet writes two events for each failed attempt: one that names the image, " +
			"such as `Failed to pull image \"REF\": ...`, and `Error: ErrImagePull`, which " +
			"names none. The second takes its image from the event of the same pod, node and " +
			"container that last named one, and the two count as one failure. An `Error:` " +
			"event whose container has no event that names an image is left out. An event " +
			"that repeated (`count` or `series.count` above 1) counts that many times.\n\n" +
			"Needs `list` on `events` in `namespace`, or in all namespaces when it is unset.",
		Attributes: map[string]schema.Attribute{
			"namespace": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "The namespace whose pods' events are read. All " +
					"namespaces when unset.",
				Validators: []validator.String{dns1123LabelValidator()},
			},
			"images": schema.ListAttribute{
				Optional:    true,
				ElementType: types.StringType,
				MarkdownDescription: "Image references of interest, such as `nginx:1.27`. " +
					"When set, `image_pulls` has only the images that match one of them, as " +
					"`imagedist_node_images` matches: by normalized name and tag, or by " +
					"repository and digest, so `nginx:1.27` matches " +
					"`docker.io/library/nginx:1.27` but not `nginx-ingress:1.27`.",
				Validators: []validator.List{
					listvalidator.NoNullValues(),
					listvalidator.ValueStringsAre(imageReferenceValidator{}),
				},
			},
			"node_names": schema.ListAttribute{
				Optional:    true,
				ElementType: types.StringType,
				MarkdownDescription: "The nodes whose events count. All nodes when unset. " +
					"An event's node is its `source.host`, or its `reportingInstance` " +
					"when that is empty.",
				Validators: []validator.List{
					listvalidator.NoNullValues(),
					listvalidator.ValueStringsAre(nodeNameValidator{}),
				},
			},
			"since": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "A positive Go duration, such as `30m` or `24h`: only " +
					"events that last occurred within it count. An event that repeated " +
					"counts whole when its last occurrence is within it. An event's time " +
					"is `lastTimestamp`, else `series.lastObservedTime`, else `eventTime`, " +
					"else `firstTimestamp`.",
				Validators: []validator.String{positiveDurationValidator{}},
			},
			"image_pulls":     imagePullsAttribute(),
			"pulls":           countAttribute("Successful pulls, over all images."),
			"already_present": countAttribute("Images already present, over all images."),
			"failures":        countAttribute("Failed attempts, over all images."),
			"back_offs":       countAttribute("Pulls skipped during back-off, over all images."),
			"event_count": countAttribute("The number of events about pods read from the " +
				"API server, before the filters and including events that are not about " +
				"images."),
		},
	}
}

func countAttribute(description string) schema.Int64Attribute {
	return schema.Int64Attribute{Computed: true, MarkdownDescription: description}
}

// imageCountAttributes returns the schema attributes that images and their nodes share.
func imageCountAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"pulls": countAttribute("The number of successful pulls."),
		"already_present": countAttribute("The number of times a container started with " +
			"the image already present on the node, so no pull was needed."),
		"failures": countAttribute("The number of failed attempts to make the image " +
			"present: failed pulls, failed image checks, invalid names and absent images " +
			"with pull policy `Never`."),
		"back_offs": countAttribute("The number of times the kubelet skipped a pull " +
			"because it was backing off after a failure (`ImagePullBackOff`)."),
		"last_failure_reason": schema.StringAttribute{
			Computed: true,
			MarkdownDescription: "The kubelet's reason for the latest failure: " +
				"`ErrImagePull`, `RegistryUnavailable`, `SignatureValidationFailed`, " +
				"`InvalidImageName`, `ErrImageNeverPull` or `ImageInspectError`. Null " +
				"without failures.",
		},
		"last_failure_message": schema.StringAttribute{
			Computed: true,
			MarkdownDescription: "The error text of the latest failure, as the kubelet " +
				"wrote it, such as the registry's response. Null when no event with the " +
				"text was read.",
		},
	}
}

func imagePullsAttribute() schema.ListNestedAttribute {
	imageAttributes := imageCountAttributes()
	imageAttributes["reference"] = schema.StringAttribute{
		Computed: true,
		MarkdownDescription: "The image as the events name it, normalized, such as " +
			"`docker.io/library/nginx:1.27`; as written when it is not a valid reference.",
	}
	imageAttributes["last_failure_time"] = schema.StringAttribute{
		Computed:            true,
		MarkdownDescription: "When the latest failure occurred, in RFC 3339. Null without failures.",
	}
	imageAttributes["median_pull_seconds"] = schema.Float64Attribute{
		Computed: true,
		MarkdownDescription: "The median duration of the successful pulls, in seconds: " +
			"the middle one, or the mean of the two middle ones. The duration is the " +
			"pull's own, without the time spent waiting for other pulls. Null when no " +
			"event gave a duration.",
	}
	imageAttributes["p95_pull_seconds"] = schema.Float64Attribute{
		Computed: true,
		MarkdownDescription: "The 95th percentile of the pull durations, in seconds, by " +
			"the nearest-rank method: the duration at rank ceil(0.95 × n) of the n " +
			"durations sorted, so with fewer than 20 pulls it is the slowest. Null when " +
			"no event gave a duration.",
	}
	nodeAttributes := imageCountAttributes()
	nodeAttributes["name"] = schema.StringAttribute{
		Computed:            true,
		MarkdownDescription: "The node name.",
	}
	imageAttributes["nodes"] = schema.ListNestedAttribute{
		Computed:            true,
		MarkdownDescription: "The figures per node, sorted by name.",
		NestedObject:        schema.NestedAttributeObject{Attributes: nodeAttributes},
	}

	return schema.ListNestedAttribute{
		Computed: true,
		MarkdownDescription: "One entry per image with pull events, sorted by `reference`. " +
			"An image in `images` without events has no entry.",
		NestedObject: schema.NestedAttributeObject{Attributes: imageAttributes},
	}
}

func (d *imagePullsDataSource) Read(
	ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse,
) {
	var model imagePullsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &model)...)
	if resp.Diagnostics.HasError() {
		return
	}

	options, err := model.options(d.now())
	if err != nil {
		// The attribute validators reject these values at plan time.
		resp.Diagnostics.AddError("Invalid Configuration", err.Error())
		return
	}
	aggregator, err := pullevents.NewAggregator(options)
	if err != nil {
		resp.Diagnostics.AddError("Invalid Image Reference", err.Error())
		return
	}
	client := kubernetesClient(d.clients, &resp.Diagnostics)
	if client == nil {
		return
	}

	namespace := model.Namespace.ValueString()
	tflog.Debug(ctx, "Reading image pull events", map[string]any{
		"namespace": namespace, "images": options.Images, "node_names": options.NodeNames,
		"since": options.Since.String(),
	})
	err = pullevents.Read(ctx, client.CoreV1(), namespace, aggregator, func(err error) {
		tflog.Debug(ctx, "Restarting the event list from the beginning because its "+
			"continue token expired", map[string]any{"error": err.Error()})
	})
	if err != nil {
		addEventListError(&resp.Diagnostics, namespace, err)
		return
	}
	summary := aggregator.Summary()
	tflog.Debug(ctx, "Read image pull events", map[string]any{
		"event_count": summary.EventCount, "image_count": len(summary.Images),
	})

	resp.Diagnostics.Append(model.setSummary(summary)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &model)...)
}

// options returns the filters of the configuration.
func (m *imagePullsModel) options(now time.Time) (pullevents.Options, error) {
	options := pullevents.Options{
		Images:    stringElements(m.Images),
		NodeNames: stringElements(m.NodeNames),
		Now:       now,
	}
	if !m.Since.IsNull() && !m.Since.IsUnknown() {
		since, err := time.ParseDuration(m.Since.ValueString())
		if err != nil || since <= 0 {
			return options, fmt.Errorf("since %q is not a positive duration",
				m.Since.ValueString())
		}
		options.Since = since
	}
	return options, nil
}

// addEventListError adds a diagnostic for a failed event list, with the next step to take.
func addEventListError(diags *diag.Diagnostics, namespace string, err error) {
	scope, object := "in all namespaces", "the events in all namespaces"
	grant := "a ClusterRole with the rule apiGroups [\"\"], resources [\"events\"], verbs " +
		"[\"list\"] through a ClusterRoleBinding"
	if namespace != "" {
		scope = fmt.Sprintf("in namespace %q", namespace)
		object = "the events " + scope
		grant = fmt.Sprintf("a Role in namespace %q with the rule apiGroups [\"\"], "+
			"resources [\"events\"], verbs [\"list\"] through a RoleBinding", namespace)
	}

	var listError *pullevents.ListError
	if errors.As(err, &listError) && listError.Expired {
		addAPIError(diags, "Unable to List Events", fmt.Sprintf("The event list %s "+
			"expired twice before its last page was read, because events changed faster "+
			"than the pages could be read. Retry, or set namespace to read fewer events.",
			scope), err)
		return
	}
	if apierrors.IsForbidden(err) {
		addPermissionError(diags, "Unable to List Events", fmt.Sprintf("The provider's "+
			"credentials may not list events %s. Grant %s to the user or service account "+
			"that runs Terraform.", scope, grant), err)
		return
	}
	detail := fmt.Sprintf("Listing the events %s failed. Check that the cluster is "+
		"reachable and retry.", scope)
	addAPIError(diags, "Unable to List Events", failureDetail(detail, object, err), err)
}

// positiveDurationValidator checks that a value is a Go duration greater than zero.
type positiveDurationValidator struct{}

func (positiveDurationValidator) Description(_ context.Context) string {
	return "value must be a positive Go duration, such as \"30m\" or \"24h\""
}

func (v positiveDurationValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (positiveDurationValidator) ValidateString(
	_ context.Context, req validator.StringRequest, resp *validator.StringResponse,
) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	value := req.ConfigValue.ValueString()
	duration, err := time.ParseDuration(value)
	if err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Duration",
			fmt.Sprintf("%q is not a Go duration. Write a number with a unit, such as "+
				"\"90s\", \"30m\" or \"24h\" (units: ns, us, ms, s, m, h).", value))
		return
	}
	if duration <= 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Duration",
			fmt.Sprintf("%q is not positive. Write a duration greater than zero, such as "+
				"\"24h\", or remove since to count every event.", value))
	}
}

// Attribute types of the image_pulls entries.
var (
	imagePullNodeType = types.ObjectType{AttrTypes: map[string]attr.Type{
		"name":                 types.StringType,
		"pulls":                types.Int64Type,
		"already_present":      types.Int64Type,
		"failures":             types.Int64Type,
		"back_offs":            types.Int64Type,
		"last_failure_reason":  types.StringType,
		"last_failure_message": types.StringType,
	}}
	imagePullType = types.ObjectType{AttrTypes: map[string]attr.Type{
		"reference":            types.StringType,
		"pulls":                types.Int64Type,
		"already_present":      types.Int64Type,
		"failures":             types.Int64Type,
		"back_offs":            types.Int64Type,
		"last_failure_reason":  types.StringType,
		"last_failure_message": types.StringType,
		"last_failure_time":    types.StringType,
		"median_pull_seconds":  types.Float64Type,
		"p95_pull_seconds":     types.Float64Type,
		"nodes":                types.ListType{ElemType: imagePullNodeType},
	}}
)

// setSummary sets the computed attributes from the summary.
func (m *imagePullsModel) setSummary(summary pullevents.Summary) diag.Diagnostics {
	var diags diag.Diagnostics
	images := make([]attr.Value, 0, len(summary.Images))
	for _, image := range summary.Images {
		value, valueDiags := imagePullValue(image)
		diags.Append(valueDiags...)
		images = append(images, value)
	}
	if diags.HasError() {
		return diags
	}

	list, listDiags := types.ListValue(imagePullType, images)
	diags.Append(listDiags...)
	m.ImagePulls = list
	m.Pulls = types.Int64Value(summary.Pulls)
	m.AlreadyPresent = types.Int64Value(summary.AlreadyPresent)
	m.Failures = types.Int64Value(summary.Failures)
	m.BackOffs = types.Int64Value(summary.BackOffs)
	m.EventCount = types.Int64Value(summary.EventCount)
	return diags
}

func imagePullValue(image pullevents.Image) (attr.Value, diag.Diagnostics) {
	var diags diag.Diagnostics
	nodes := make([]attr.Value, 0, len(image.Nodes))
	for _, node := range image.Nodes {
		attributes := countValues(node.Counts)
		attributes["name"] = types.StringValue(node.Name)
		value, valueDiags := types.ObjectValue(imagePullNodeType.AttrTypes, attributes)
		diags.Append(valueDiags...)
		nodes = append(nodes, value)
	}
	nodeList, listDiags := types.ListValue(imagePullNodeType, nodes)
	diags.Append(listDiags...)

	attributes := countValues(image.Counts)
	attributes["reference"] = types.StringValue(image.Reference)
	attributes["nodes"] = nodeList
	attributes["last_failure_time"] = types.StringNull()
	if image.LastFailure != nil && !image.LastFailure.Time.IsZero() {
		attributes["last_failure_time"] = types.StringValue(
			image.LastFailure.Time.UTC().Format(time.RFC3339))
	}
	attributes["median_pull_seconds"] = types.Float64Null()
	if median, ok := pullevents.Median(image.PullTimes); ok {
		attributes["median_pull_seconds"] = types.Float64Value(median)
	}
	attributes["p95_pull_seconds"] = types.Float64Null()
	if p95, ok := pullevents.NearestRankPercentile(image.PullTimes, 95); ok {
		attributes["p95_pull_seconds"] = types.Float64Value(p95)
	}

	value, valueDiags := types.ObjectValue(imagePullType.AttrTypes, attributes)
	diags.Append(valueDiags...)
	return value, diags
}

// countValues returns the attributes that images and nodes share.
func countValues(counts pullevents.Counts) map[string]attr.Value {
	values := map[string]attr.Value{
		"pulls":                types.Int64Value(counts.Pulls),
		"already_present":      types.Int64Value(counts.AlreadyPresent),
		"failures":             types.Int64Value(counts.Failures),
		"back_offs":            types.Int64Value(counts.BackOffs),
		"last_failure_reason":  types.StringNull(),
		"last_failure_message": types.StringNull(),
	}
	if counts.LastFailure != nil {
		values["last_failure_reason"] = types.StringValue(counts.LastFailure.Reason)
		if counts.LastFailure.Message != "" {
			values["last_failure_message"] = types.StringValue(counts.LastFailure.Message)
		}
	}
	return values
}
