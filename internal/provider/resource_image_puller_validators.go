package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// quantityValidator checks a Kubernetes resource quantity, such as `5m` or `16Mi`, in the
// precision the API server keeps: whole millicores for CPU and whole bytes for memory. The
// API server rounds a finer value up, which would show as a change in every plan.
type quantityValidator struct {
	cpu bool
}

func (quantityValidator) Description(_ context.Context) string {
	return "value must be a Kubernetes quantity, such as 5m or 16Mi"
}

func (v quantityValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v quantityValidator) ValidateString(
	_ context.Context, req validator.StringRequest, resp *validator.StringResponse,
) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	text := req.ConfigValue.ValueString()
	quantity, err := resource.ParseQuantity(text)
	switch {
	case err != nil:
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Quantity",
			fmt.Sprintf("%q is not a Kubernetes quantity: %v. Write a number with an "+
				"optional suffix, such as `5m` (CPU) or `16Mi` (memory).", text, err))
	case quantity.Sign() < 0:
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Quantity",
			fmt.Sprintf("%q is negative. Requests and limits must be zero or more.", text))
	case v.cpu && resource.NewMilliQuantity(quantity.MilliValue(), resource.DecimalSI).
		Cmp(quantity) != 0:
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Quantity",
			fmt.Sprintf("%q is finer than 1m, the smallest CPU amount Kubernetes keeps. "+
				"Use whole millicores, such as `1m`.", text))
	case !v.cpu && resource.NewQuantity(quantity.Value(), resource.BinarySI).
		Cmp(quantity) != 0:
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Quantity",
			fmt.Sprintf("%q is not a whole number of bytes, which Kubernetes keeps for "+
				"memory. Use a value such as `8Mi`.", text))
	}
}

// intOrPercentValidator checks a rolling-update bound: a non-negative integer, or a
// percentage from 0% to 100%, that is not zero.
type intOrPercentValidator struct{}

func (intOrPercentValidator) Description(_ context.Context) string {
	return "value must be a positive integer or a percentage such as 25%"
}

func (v intOrPercentValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (intOrPercentValidator) ValidateString(
	_ context.Context, req validator.StringRequest, resp *validator.StringResponse,
) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	text := req.ConfigValue.ValueString()
	value := parseIntOrPercent(text)
	// With 100 nodes, the scaled value of 1% is 1; scaling 100 gives the bound that counts.
	scaled, err := intstr.GetScaledValueFromIntOrPercent(&value, 100, true)
	if err != nil || scaled <= 0 || scaled > 100 && strings.HasSuffix(text, "%") {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Max Unavailable",
			fmt.Sprintf("%q is not a number of nodes or a percentage of them. Write a "+
				"positive integer, such as `2`, or a percentage from 1%% to 100%%, such "+
				"as `25%%`.", text))
	}
}

// parseIntOrPercent reads "25%" as a percentage and digits as an integer. Anything else stays
// a string, which intstr then rejects.
func parseIntOrPercent(text string) intstr.IntOrString {
	var number int32
	if _, err := fmt.Sscanf(text, "%d", &number); err == nil &&
		fmt.Sprint(number) == text {
		return intstr.FromInt32(number)
	}
	return intstr.FromString(text)
}

// importNameProblem applies the schema's rules for namespace and name to the parts of an
// import ID, so that an ID the configuration could never hold fails before any request. It
// returns "" when both are valid.
func importNameProblem(namespace, name string) string {
	if problems := validation.IsDNS1123Label(namespace); len(problems) > 0 {
		return fmt.Sprintf("the namespace %q is not a valid DNS-1123 label: %s", namespace,
			strings.Join(problems, "; "))
	}
	if problems := validation.IsDNS1123Label(name); len(problems) > 0 {
		return fmt.Sprintf("the name %q is not a valid DNS-1123 label: %s", name,
			strings.Join(problems, "; "))
	}
	return ""
}
