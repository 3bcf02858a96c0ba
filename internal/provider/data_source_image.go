package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/imagedist/terraform-provider-imagedist/internal/kube"
	"github.com/imagedist/terraform-provider-imagedist/internal/registry"
)

var (
	_ datasource.DataSource                   = &imageDataSource{}
	_ datasource.DataSourceWithConfigure      = &imageDataSource{}
	_ datasource.DataSourceWithValidateConfig = &imageDataSource{}
)

// imageDataSource is imagedist_image.
type imageDataSource struct {
	lookups imageLookups
}

// imageLookups contains the provider settings that both image data sources use: the cluster
// clients for pull secrets and the registry settings.
type imageLookups struct {
	clients *kube.Clients
	// transport is nil before Configure or while the provider configuration is unknown.
	transport    http.RoundTripper
	fileKeychain authn.Keychain
	// fileProblem is the error of look-ups that would use an unusable auth file that an
	// environment variable named.
	fileProblem        *registryAuthProblem
	insecureRegistries []string
}

// imageInfoModel contains the attributes that describe one looked-up image, other than its
// platform.
type imageInfoModel struct {
	Registry            types.String `tfsdk:"registry"`
	Repository          types.String `tfsdk:"repository"`
	Tag                 types.String `tfsdk:"tag"`
	Digest              types.String `tfsdk:"digest"`
	MediaType           types.String `tfsdk:"media_type"`
	IsIndex             types.Bool   `tfsdk:"is_index"`
	ManifestDigest      types.String `tfsdk:"manifest_digest"`
	ConfigDigest        types.String `tfsdk:"config_digest"`
	Created             types.String `tfsdk:"created"`
	Layers              types.List   `tfsdk:"layers"`
	CompressedSizeBytes types.Int64  `tfsdk:"compressed_size_bytes"`
	Platforms           types.List   `tfsdk:"platforms"`
}

// imageModel is the configuration and state of imagedist_image.
type imageModel struct {
	Reference types.String `tfsdk:"reference"`
	Platform  types.String `tfsdk:"platform"`
	imageCredentialsModel
	imageInfoModel
}

// NewImageDataSource returns the imagedist_image data source.
func NewImageDataSource() datasource.DataSource {
	return &imageDataSource{}
}

func (d *imageDataSource) Metadata(
	_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse,
) {
	resp.TypeName = req.ProviderTypeName + "_image"
}

func (d *imageDataSource) Configure(
	_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse,
) {
	d.lookups = imageLookupsFromProviderData(req.ProviderData, &resp.Diagnostics)
}

// imageLookupsFromProviderData checks the value Configure receives and takes the registry
// settings from it.
func imageLookupsFromProviderData(data any, diags *diag.Diagnostics) imageLookups {
	clients := clientsFromProviderData(data, diags)
	configured, ok := data.(*providerData)
	if !ok {
		return imageLookups{}
	}
	lookups := imageLookups{
		clients:            clients,
		transport:          configured.registryTransport,
		fileProblem:        configured.registryAuthProblem,
		insecureRegistries: configured.insecureRegistries,
	}
	if configured.registryAuth != nil {
		lookups.fileKeychain = registry.NewNamedKeychain(registry.CredentialSource{
			Name: configured.registryAuthSource, Config: configured.registryAuth,
		})
	}
	return lookups
}

func (d *imageDataSource) Schema(
	_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse,
) {
	attributes := map[string]schema.Attribute{
		"reference": schema.StringAttribute{
			Required: true,
			MarkdownDescription: "The image reference, as `docker pull` takes it, such as " +
				"`nginx:1.27`, `quay.io/org/app:v1` or `quay.io/org/app@sha256:...`. A name " +
				"without a registry is on Docker Hub (`nginx` is " +
				"`docker.io/library/nginx:latest`), and a reference with a tag and a digest " +
				"is looked up by its digest.",
			Validators: []validator.String{imageReferenceValidator{}},
		},
		"platform": schema.StringAttribute{
			Optional: true,
			Computed: true,
			MarkdownDescription: "The platform to describe when the reference names an " +
				"index, as `os/architecture` or `os/architecture/variant`, such as " +
				"`linux/arm64`. Defaults to `" + registry.DefaultPlatform.String() + "`. A " +
				"platform without a variant matches any variant of it. A single-platform " +
				"image of another platform is an error. When set, it stays as written; " +
				"when unset, it becomes the platform of the described image, variant " +
				"included.",
			Validators: []validator.String{platformValidator{}},
		},
	}
	for key, attribute := range imageCredentialAttributes() {
		attributes[key] = attribute
	}
	for key, attribute := range imageInfoAttributes() {
		attributes[key] = attribute
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads an image's manifest from its registry: its digest, " +
			"layers and download size, and for a multi-platform index every platform " +
			"with its own size. The provider sends the requests itself; nodes are not " +
			"involved.\n\n" + imageCredentialsDescription,
		Attributes: attributes,
	}
}

// imageInfoAttributes returns the computed attributes that describe one image.
func imageInfoAttributes() map[string]schema.Attribute {
	computed := func(description string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: description}
	}
	return map[string]schema.Attribute{
		"registry": computed("The registry host, such as `quay.io` or `docker.io`."),
		"repository": computed("The repository within the registry, such as " +
			"`library/nginx`."),
		"tag": computed("The tag of the reference. Null for a reference with only a " +
			"digest."),
		"digest": computed("The digest of what the reference names: of the index for a " +
			"multi-platform image, else of the image manifest. Pin images with it."),
		"media_type": computed("The media type of what the reference names, such as " +
			"`application/vnd.oci.image.index.v1+json`, from the `mediaType` field of the " +
			"manifest. Without that field, it is the `Content-Type` that the registry sent " +
			"when that is a manifest or index type, else the OCI type that the manifest's " +
			"fields imply."),
		"is_index": schema.BoolAttribute{
			Computed: true,
			MarkdownDescription: "Whether the reference names an OCI image index or a " +
				"Docker manifest list.",
		},
		"manifest_digest": computed("The digest of the described image's manifest. It " +
			"equals `digest` unless the reference names an index."),
		"config_digest": computed("The digest of the described image's config blob, " +
			"which container runtimes show as the image ID."),
		"created": computed("The creation time in the image's config, in RFC 3339 " +
			"format. Null when the config records none."),
		"layers": schema.ListNestedAttribute{
			Computed:            true,
			MarkdownDescription: "The described image's layers, base layer first.",
			NestedObject: schema.NestedAttributeObject{
				Attributes: map[string]schema.Attribute{
					"digest":     computed("The layer's digest."),
					"media_type": computed("The layer's media type."),
					"size_bytes": schema.Int64Attribute{
						Computed:            true,
						MarkdownDescription: "The compressed size of the layer, in bytes.",
					},
				},
			},
		},
		"compressed_size_bytes": schema.Int64Attribute{
			Computed: true,
			MarkdownDescription: "The described image's download size in bytes: its " +
				"config blob plus its compressed layers, as its manifest records them. A " +
				"node stores the layers unpacked, so the `size_bytes` that " +
				"`imagedist_node_images` reports is larger, and layers that a node has " +
				"already are not downloaded again.",
		},
		"platforms": schema.ListNestedAttribute{
			Computed: true,
			MarkdownDescription: "For an index, every platform image in index order, " +
				"without the attestation manifests (platform `unknown/unknown`) that " +
				"BuildKit adds. Empty for a single image.",
			NestedObject: schema.NestedAttributeObject{
				Attributes: map[string]schema.Attribute{
					"platform": computed("The platform, as `os/architecture` or " +
						"`os/architecture/variant`."),
					"digest": computed("The digest of the platform's image manifest."),
					"compressed_size_bytes": schema.Int64Attribute{
						Computed: true,
						MarkdownDescription: "The platform image's download size in " +
							"bytes: config blob plus compressed layers.",
					},
				},
			},
		},
	}
}

func (d *imageDataSource) ValidateConfig(
	ctx context.Context, req datasource.ValidateConfigRequest,
	resp *datasource.ValidateConfigResponse,
) {
	validateImageCredentials(ctx, req.Config, &resp.Diagnostics)
}

func (d *imageDataSource) Read(
	ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse,
) {
	var model imageModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &model)...)
	if resp.Diagnostics.HasError() {
		return
	}

	platform := configuredPlatform(model.Platform)
	resolver := d.lookups.resolver(ctx, model.imageCredentialsModel, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	reference := model.Reference.ValueString()
	tflog.Debug(ctx, "Looking up image", map[string]any{"reference": reference})
	info, err := resolver.Inspect(ctx, reference, platform)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("reference"), "Unable to Look Up Image",
			lookupErrorDetail(reference, err))
		return
	}

	model.imageInfoModel = flattenImageInfo(info)
	if model.Platform.IsNull() || model.Platform.IsUnknown() {
		model.Platform = types.StringValue(info.Platform.String())
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &model)...)
}

// lookupErrorDetail describes what failed in a look-up of reference and what to do, with
// the underlying error on its own line.
func lookupErrorDetail(reference string, err error) string {
	var failure *registry.LookupError
	if !errors.As(err, &failure) {
		return fmt.Sprintf("Reading %s from its registry failed. Check the reference.\n\n%s",
			reference, redact(err.Error()))
	}
	detail := fmt.Sprintf("Reading %s from its registry failed: %s. %s", reference,
		failure.Problem, failure.Advice)
	if failure.Cause != "" {
		detail += "\n\n" + failure.Cause
	}
	return redact(detail)
}

// configuredPlatform returns the platform of a validated platform attribute, or nil.
func configuredPlatform(value types.String) *registry.Platform {
	if value.IsNull() || value.IsUnknown() {
		return nil
	}
	// The schema validator has parsed the text already.
	platform, err := registry.ParsePlatform(value.ValueString())
	if err != nil {
		return nil
	}
	return &platform
}

// Attribute types of the nested objects in imageInfoAttributes.
var (
	layerObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
		"digest": types.StringType, "media_type": types.StringType,
		"size_bytes": types.Int64Type,
	}}
	platformImageObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
		"platform": types.StringType, "digest": types.StringType,
		"compressed_size_bytes": types.Int64Type,
	}}
)

// flattenImageInfo maps a look-up result to the attributes of imageInfoAttributes.
func flattenImageInfo(info registry.ImageInfo) imageInfoModel {
	layers := make([]attr.Value, len(info.Layers))
	for i, layer := range info.Layers {
		layers[i] = types.ObjectValueMust(layerObjectType.AttrTypes, map[string]attr.Value{
			"digest":     types.StringValue(layer.Digest),
			"media_type": types.StringValue(layer.MediaType),
			"size_bytes": types.Int64Value(layer.Size),
		})
	}
	platforms := make([]attr.Value, len(info.Platforms))
	for i, image := range info.Platforms {
		platforms[i] = types.ObjectValueMust(platformImageObjectType.AttrTypes,
			map[string]attr.Value{
				"platform":              types.StringValue(image.Platform.String()),
				"digest":                types.StringValue(image.Digest),
				"compressed_size_bytes": types.Int64Value(image.CompressedSize),
			})
	}

	model := imageInfoModel{
		Registry:            types.StringValue(info.Registry),
		Repository:          types.StringValue(info.Repository),
		Tag:                 types.StringNull(),
		Digest:              types.StringValue(info.Digest),
		MediaType:           types.StringValue(info.MediaType),
		IsIndex:             types.BoolValue(info.IsIndex),
		ManifestDigest:      types.StringValue(info.ManifestDigest),
		ConfigDigest:        types.StringValue(info.ConfigDigest),
		Created:             types.StringNull(),
		Layers:              types.ListValueMust(layerObjectType, layers),
		CompressedSizeBytes: types.Int64Value(info.CompressedSize),
		Platforms:           types.ListValueMust(platformImageObjectType, platforms),
	}
	if info.Tag != "" {
		model.Tag = types.StringValue(info.Tag)
	}
	if !info.Created.IsZero() {
		model.Created = types.StringValue(info.Created.UTC().Format(time.RFC3339))
	}
	return model
}

// platformValidator checks an os/architecture[/variant] platform with registry.ParsePlatform.
type platformValidator struct{}

func (platformValidator) Description(_ context.Context) string {
	return "value must be a platform such as linux/amd64 or linux/arm64/v8"
}

func (v platformValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (platformValidator) ValidateString(
	_ context.Context, req validator.StringRequest, resp *validator.StringResponse,
) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := registry.ParsePlatform(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Platform", err.Error()+".")
	}
}
