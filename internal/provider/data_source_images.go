package provider

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
	"github.com/imagedist/terraform-provider-imagedist/internal/registry"
)

var (
	_ datasource.DataSource                   = &imagesDataSource{}
	_ datasource.DataSourceWithConfigure      = &imagesDataSource{}
	_ datasource.DataSourceWithValidateConfig = &imagesDataSource{}
)

// maxImageLookupWorkers bounds the concurrent look-ups of imagedist_images, so that a long
// list does not open a burst of connections to one registry and trip its rate limit. Each
// look-up waits for three or four round trips in a row, so against a registry across a
// network the batch time is about references / workers x those round trips.
const maxImageLookupWorkers = 16

// imagesDataSource is imagedist_images.
type imagesDataSource struct {
	lookups imageLookups
}

// imagesModel is the configuration and state of imagedist_images.
type imagesModel struct {
	References types.List   `tfsdk:"references"`
	Platform   types.String `tfsdk:"platform"`
	imageCredentialsModel
	Images types.List `tfsdk:"images"`
}

// imagesElementModel is one element of images.
type imagesElementModel struct {
	Reference types.String `tfsdk:"reference"`
	Platform  types.String `tfsdk:"platform"`
	Error     types.String `tfsdk:"error"`
	imageInfoModel
}

// NewImagesDataSource returns the imagedist_images data source.
func NewImagesDataSource() datasource.DataSource {
	return &imagesDataSource{}
}

func (d *imagesDataSource) Metadata(
	_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse,
) {
	resp.TypeName = req.ProviderTypeName + "_images"
}

func (d *imagesDataSource) Configure(
	_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse,
) {
	d.lookups = imageLookupsFromProviderData(req.ProviderData, &resp.Diagnostics)
}

// imagesElementAttributes returns the attributes of one element of images.
func imagesElementAttributes() map[string]schema.Attribute {
	attributes := imageInfoAttributes()
	attributes["reference"] = schema.StringAttribute{
		Computed:            true,
		MarkdownDescription: "The reference as written in `references`.",
	}
	attributes["platform"] = schema.StringAttribute{
		Computed: true,
		MarkdownDescription: "The platform of the described image, variant included, such " +
			"as `linux/arm64/v8`.",
	}
	attributes["error"] = schema.StringAttribute{
		Computed: true,
		MarkdownDescription: "Why the look-up failed, or empty on success. The other " +
			"attributes are null when it failed.",
	}
	return attributes
}

// imagesElementType is the object type of one element of images.
var imagesElementType = schema.NestedAttributeObject{
	Attributes: imagesElementAttributes(),
}.Type().(types.ObjectType)

func (d *imagesDataSource) Schema(
	_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse,
) {
	attributes := map[string]schema.Attribute{
		"references": schema.ListAttribute{
			Required:    true,
			ElementType: types.StringType,
			MarkdownDescription: "Image references, as `imagedist_image` takes them. " +
				"References that name the same image, such as `nginx` and " +
				"`docker.io/library/nginx:latest`, are looked up once. An empty list " +
				"gives an empty `images` list without any request.",
			Validators: []validator.List{
				listvalidator.NoNullValues(),
				listvalidator.ValueStringsAre(imageReferenceValidator{}),
			},
		},
		"platform": schema.StringAttribute{
			Optional: true,
			MarkdownDescription: "The platform to describe for references that name an " +
				"index, as `os/architecture` or `os/architecture/variant`. Defaults to `" +
				registry.DefaultPlatform.String() + "`. A single-platform image of " +
				"another platform fails with its own `error`.",
			Validators: []validator.String{platformValidator{}},
		},
		"images": schema.ListNestedAttribute{
			Computed: true,
			MarkdownDescription: "One element per reference, in the order of " +
				"`references`, with the attributes of `imagedist_image`. A reference " +
				"that fails has its `error` set and the other elements stay filled in.",
			NestedObject: schema.NestedAttributeObject{Attributes: imagesElementAttributes()},
		},
	}
	for key, attribute := range imageCredentialAttributes() {
		attributes[key] = attribute
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads the manifests of many images from their registries, " +
			"as `imagedist_image` does for one, with up to " +
			fmt.Sprint(maxImageLookupWorkers) + " look-ups at a time over shared " +
			"connections. A reference that fails is reported in its element's `error` " +
			"and in one warning, without failing the others.\n\n" +
			imageCredentialsDescription,
		Attributes: attributes,
	}
}

func (d *imagesDataSource) ValidateConfig(
	ctx context.Context, req datasource.ValidateConfigRequest,
	resp *datasource.ValidateConfigResponse,
) {
	validateImageCredentials(ctx, req.Config, &resp.Diagnostics)
}

func (d *imagesDataSource) Read(
	ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse,
) {
	var model imagesModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &model)...)
	if resp.Diagnostics.HasError() {
		return
	}

	references := stringElements(model.References)
	if len(references) == 0 {
		// A list computed to be empty is common, such as the images of a feature that is
		// turned off, and needs neither the cluster nor a registry.
		model.Images = types.ListValueMust(imagesElementType, []attr.Value{})
		resp.Diagnostics.Append(resp.State.Set(ctx, &model)...)
		return
	}

	resolver := d.lookups.resolver(ctx, model.imageCredentialsModel, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	shared, err := resolver.WithSharedConnections()
	if err != nil {
		resp.Diagnostics.AddError("Unable to Create Registry Client", err.Error())
		return
	}

	tflog.Debug(ctx, "Looking up images", map[string]any{"references": len(references)})
	results := inspectAll(ctx, shared, references, configuredPlatform(model.Platform))

	elements, failed := imagesElements(references, results)
	if failed.elements > 0 {
		tflog.Warn(ctx, "Image look-ups failed", map[string]any{
			"failed_elements": failed.elements, "references": failed.references,
		})
		resp.Diagnostics.AddAttributeWarning(path.Root("references"),
			"Some Images Could Not Be Looked Up", failed.summary(len(references)))
	}
	model.Images = types.ListValueMust(imagesElementType, elements)
	resp.Diagnostics.Append(resp.State.Set(ctx, &model)...)
}

// imageResult is the outcome of one look-up.
type imageResult struct {
	info registry.ImageInfo
	err  error
}

// inspectAll looks references up with at most maxImageLookupWorkers at a time, and each
// distinct image once: references that normalize to the same text, or that name the same
// digest of one repository with or without a tag, share one look-up. It returns the result
// of each reference, in input order, with each reference's own tag.
func inspectAll(ctx context.Context, resolver registry.Resolver, references []string,
	platform *registry.Platform) []imageResult {
	indexes := map[string][]int{}
	tags := make([]string, len(references))
	var distinct []string
	for i, reference := range references {
		key := reference
		if parsed, err := imageref.Parse(reference); err == nil {
			// With a digest the tag is not looked up, so only the content counts.
			key = parsed.Identity()
			tags[i] = parsed.Tag
		}
		if _, seen := indexes[key]; !seen {
			distinct = append(distinct, key)
		}
		indexes[key] = append(indexes[key], i)
	}

	results := make([]imageResult, len(references))
	jobs := make(chan string)
	var workers sync.WaitGroup
	for range min(maxImageLookupWorkers, len(distinct)) {
		workers.Go(func() {
			for key := range jobs {
				first := references[indexes[key][0]]
				info, err := resolver.Inspect(ctx, first, platform)
				for _, i := range indexes[key] {
					own := info
					if err == nil {
						own.Tag = tags[i]
					}
					results[i] = imageResult{info: own, err: err}
				}
			}
		})
	}
	for _, key := range distinct {
		jobs <- key
	}
	close(jobs)
	workers.Wait()
	return results
}

// failedReferences counts the elements of images whose look-up failed, and lists each
// failed reference once.
type failedReferences struct {
	elements   int
	references []string
	counts     map[string]int
}

func (f *failedReferences) add(reference string) {
	if f.counts == nil {
		f.counts = map[string]int{}
	}
	if f.counts[reference] == 0 {
		f.references = append(f.references, reference)
	}
	f.counts[reference]++
	f.elements++
}

// summary returns the warning text: how many of total elements failed, and which
// references, with a count for a reference that more than one element repeats.
func (f failedReferences) summary(total int) string {
	listed := make([]string, len(f.references))
	for i, reference := range f.references {
		listed[i] = reference
		if count := f.counts[reference]; count > 1 {
			listed[i] = fmt.Sprintf("%s (%d elements)", reference, count)
		}
	}
	return fmt.Sprintf("%d of %d references failed: %s. The error attribute of each "+
		"element gives the reason.", f.elements, total, strings.Join(listed, ", "))
}

// imagesElements maps the results to elements of images, and returns the failures.
func imagesElements(references []string, results []imageResult) ([]attr.Value,
	failedReferences) {
	elements := make([]attr.Value, len(references))
	var failed failedReferences
	for i, result := range results {
		element := imagesElementModel{Reference: types.StringValue(references[i])}
		if result.err != nil {
			element.Error = types.StringValue(redact(result.err.Error()))
			element.imageInfoModel = nullImageInfo()
			element.Platform = types.StringNull()
			failed.add(references[i])
		} else {
			element.Error = types.StringValue("")
			element.imageInfoModel = flattenImageInfo(result.info)
			element.Platform = types.StringValue(result.info.Platform.String())
		}
		elements[i] = imagesElementObject(element)
	}
	return elements, failed
}

// nullImageInfo returns the attributes of a failed look-up: all null, with typed lists.
func nullImageInfo() imageInfoModel {
	return imageInfoModel{
		Registry: types.StringNull(), Repository: types.StringNull(), Tag: types.StringNull(),
		Digest: types.StringNull(), MediaType: types.StringNull(), IsIndex: types.BoolNull(),
		ManifestDigest: types.StringNull(), ConfigDigest: types.StringNull(),
		Created: types.StringNull(), Layers: types.ListNull(layerObjectType),
		CompressedSizeBytes: types.Int64Null(), Platforms: types.ListNull(platformImageObjectType),
	}
}

func imagesElementObject(element imagesElementModel) attr.Value {
	info := element.imageInfoModel
	return types.ObjectValueMust(imagesElementType.AttrTypes, map[string]attr.Value{
		"reference":             element.Reference,
		"platform":              element.Platform,
		"error":                 element.Error,
		"registry":              info.Registry,
		"repository":            info.Repository,
		"tag":                   info.Tag,
		"digest":                info.Digest,
		"media_type":            info.MediaType,
		"is_index":              info.IsIndex,
		"manifest_digest":       info.ManifestDigest,
		"config_digest":         info.ConfigDigest,
		"created":               info.Created,
		"layers":                info.Layers,
		"compressed_size_bytes": info.CompressedSizeBytes,
		"platforms":             info.Platforms,
	})
}
