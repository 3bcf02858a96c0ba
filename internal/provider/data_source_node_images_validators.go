package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
)

// labelSelectorValidator checks a label selector with the parser the API server uses.
type labelSelectorValidator struct{}

func (labelSelectorValidator) Description(_ context.Context) string {
	return "value must be a valid Kubernetes label selector"
}

func (v labelSelectorValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (labelSelectorValidator) ValidateString(
	_ context.Context, req validator.StringRequest, resp *validator.StringResponse,
) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := labels.Parse(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Label Selector",
			"The value is not a valid label selector: "+err.Error()+"\n\nWrite it as "+
				"kubectl's --selector takes it, such as `node-role.kubernetes.io/worker`, "+
				"`zone=eu-west-1a,!gpu` or `zone in (eu-west-1a,eu-west-1b)`.")
	}
}

// nodeNameValidator checks that a value can be a node name: a DNS subdomain, as the API
// server requires.
type nodeNameValidator struct{}

func (nodeNameValidator) Description(_ context.Context) string {
	return "value must be a valid node name (a lowercase DNS subdomain)"
}

func (v nodeNameValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (nodeNameValidator) ValidateString(
	_ context.Context, req validator.StringRequest, resp *validator.StringResponse,
) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	problems := validation.IsDNS1123Subdomain(req.ConfigValue.ValueString())
	if len(problems) > 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Node Name",
			fmt.Sprintf("The value %q cannot be a node name: %s.",
				req.ConfigValue.ValueString(), strings.Join(problems, "; ")))
	}
}

// imageReferenceValidator checks an image reference with imageref.Parse, the parser the data
// source matches with.
type imageReferenceValidator struct{}

func (imageReferenceValidator) Description(_ context.Context) string {
	return "value must be a valid container image reference"
}

func (v imageReferenceValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (imageReferenceValidator) ValidateString(
	_ context.Context, req validator.StringRequest, resp *validator.StringResponse,
) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := imageref.Parse(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Image Reference",
			err.Error()+"\n\nWrite a reference as `docker pull` takes it, such as "+
				"`nginx:1.27`, `quay.io/org/app:v1` or `quay.io/org/app@sha256:<64 hex "+
				"digits>`.")
	}
}

// uniqueImageReferencesValidator rejects two references in images that name the same image
// after normalization, such as `redis:7.4` and `docker.io/library/redis:7.4`: image_nodes
// would have two entries with one reference, and a map built from them fails.
type uniqueImageReferencesValidator struct{}

func (uniqueImageReferencesValidator) Description(_ context.Context) string {
	return "no two references may name the same image after normalization"
}

func (v uniqueImageReferencesValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (uniqueImageReferencesValidator) ValidateList(
	_ context.Context, req validator.ListRequest, resp *validator.ListResponse,
) {
	first := map[string]int{}
	for i, element := range req.ConfigValue.Elements() {
		value, ok := element.(types.String)
		if !ok || value.IsNull() || value.IsUnknown() {
			continue
		}
		parsed, err := imageref.Parse(value.ValueString())
		if err != nil {
			continue
		}
		normalized := parsed.String()
		earlier, seen := first[normalized]
		if !seen {
			first[normalized] = i
			continue
		}
		resp.Diagnostics.AddAttributeError(req.Path.AtListIndex(i), "Duplicate Image Reference",
			fmt.Sprintf("images[%d] and images[%d] both name %s, so image_nodes would have "+
				"two entries with that reference. Remove one of them.", earlier, i, normalized))
	}
}
