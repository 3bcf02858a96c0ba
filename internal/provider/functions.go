package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
)

var (
	_ function.Function = parseImageReferenceFunction{}
	_ function.Function = registryKeyFunction{}
)

// parseImageReferenceFunction is provider::imagedist::parse_image_reference.
type parseImageReferenceFunction struct{}

// NewParseImageReferenceFunction returns the parse_image_reference function.
func NewParseImageReferenceFunction() function.Function {
	return parseImageReferenceFunction{}
}

var imageReferenceAttributeTypes = map[string]attr.Type{
	"registry": types.StringType, "repository": types.StringType, "tag": types.StringType,
	"digest": types.StringType,
}

func (parseImageReferenceFunction) Metadata(_ context.Context, _ function.MetadataRequest,
	resp *function.MetadataResponse) {
	resp.Name = "parse_image_reference"
}

func (parseImageReferenceFunction) Definition(_ context.Context, _ function.DefinitionRequest,
	resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "Split a container image reference into its parts.",
		MarkdownDescription: "Parses an image reference the way the container tools do and " +
			"returns its `registry`, `repository`, `tag` and `digest`. The first path " +
			"component is the registry only when it contains `.` or `:` or is `localhost`, " +
			"so `nginx` is `docker.io`, `library/nginx`, tag `latest`. A reference with " +
			"only a digest has an empty `tag`, and one without digest an empty `digest`. " +
			"An uppercase repository, a scheme or an invalid tag or digest is an error.",
		Parameters: []function.Parameter{
			function.StringParameter{
				Name:                "reference",
				MarkdownDescription: "The image reference, such as `quay.io/team/app:1.2`.",
			},
		},
		Return: function.ObjectReturn{AttributeTypes: imageReferenceAttributeTypes},
	}
}

func (parseImageReferenceFunction) Run(ctx context.Context, req function.RunRequest,
	resp *function.RunResponse) {
	var reference string
	resp.Error = function.ConcatFuncErrors(req.Arguments.Get(ctx, &reference))
	if resp.Error != nil {
		return
	}
	parsed, err := imageref.Parse(reference)
	if err != nil {
		resp.Error = function.NewArgumentFuncError(0, err.Error())
		return
	}
	value := types.ObjectValueMust(imageReferenceAttributeTypes, map[string]attr.Value{
		"registry":   types.StringValue(parsed.Registry),
		"repository": types.StringValue(parsed.Repository),
		"tag":        types.StringValue(parsed.Tag),
		"digest":     types.StringValue(parsed.Digest),
	})
	resp.Error = function.ConcatFuncErrors(resp.Result.Set(ctx, value))
}

// registryKeyFunction is provider::imagedist::registry_key.
type registryKeyFunction struct{}

// NewRegistryKeyFunction returns the registry_key function.
func NewRegistryKeyFunction() function.Function {
	return registryKeyFunction{}
}

func (registryKeyFunction) Metadata(_ context.Context, _ function.MetadataRequest,
	resp *function.MetadataResponse) {
	resp.Name = "registry_key"
}

func (registryKeyFunction) Definition(_ context.Context, _ function.DefinitionRequest,
	resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "Normalise a registry server the way a pull secret key is matched.",
		MarkdownDescription: "Returns the key under which `imagedist_pull_secret` writes a " +
			"registry server, as the kubelet matches it: the scheme, a trailing slash and " +
			"a `/v1/` or `/v2/` suffix are removed, the host is lowercased and port 443 is " +
			"dropped, so `https://Registry.Example.com:443/` gives `registry.example.com`. " +
			"Docker Hub's names, such as `https://index.docker.io/v1/`, all give `" +
			imageref.DockerHubKey + "`. Any other path, user information, a query, or an " +
			"invalid host or port is an error.",
		Parameters: []function.Parameter{
			function.StringParameter{
				Name:                "server",
				MarkdownDescription: "The registry server, such as `https://quay.io/`.",
			},
		},
		Return: function.StringReturn{},
	}
}

func (registryKeyFunction) Run(ctx context.Context, req function.RunRequest,
	resp *function.RunResponse) {
	var server string
	resp.Error = function.ConcatFuncErrors(req.Arguments.Get(ctx, &server))
	if resp.Error != nil {
		return
	}
	key, err := imageref.RegistryKey(server)
	if err != nil {
		resp.Error = function.NewArgumentFuncError(0, redact(err.Error()))
		return
	}
	resp.Error = function.ConcatFuncErrors(resp.Result.Set(ctx, key))
}
