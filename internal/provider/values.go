package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
)

// stringElements returns the known, non-null strings of a list, set or map value in order.
func stringElements(collection interface{ Elements() []attr.Value }) []string {
	var out []string
	for _, element := range collection.Elements() {
		text, ok := element.(types.String)
		if !ok || text.IsNull() || text.IsUnknown() {
			continue
		}
		out = append(out, text.ValueString())
	}
	return out
}

func containsUnknown(values []attr.Value) bool {
	for _, value := range values {
		if value.IsUnknown() {
			return true
		}
	}
	return false
}

// containsUnknownDeep reports whether a value or anything nested in it is unknown.
func containsUnknownDeep(value attr.Value) bool {
	if value.IsUnknown() {
		return true
	}
	switch typed := value.(type) {
	case basetypes.ListValue:
		return anyUnknownDeep(typed.Elements())
	case basetypes.SetValue:
		return anyUnknownDeep(typed.Elements())
	case basetypes.MapValue:
		for _, element := range typed.Elements() {
			if containsUnknownDeep(element) {
				return true
			}
		}
	case basetypes.ObjectValue:
		for _, attribute := range typed.Attributes() {
			if containsUnknownDeep(attribute) {
				return true
			}
		}
	}
	return false
}

func anyUnknownDeep(values []attr.Value) bool {
	for _, value := range values {
		if containsUnknownDeep(value) {
			return true
		}
	}
	return false
}

// positiveTimeoutsValidator rejects a timeouts value of zero or less, which the timeouts
// block's own check lets through, because such a wait fails at once after the change is
// written.
type positiveTimeoutsValidator struct{}

func (positiveTimeoutsValidator) Description(_ context.Context) string {
	return "timeouts must be positive durations"
}

func (v positiveTimeoutsValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (positiveTimeoutsValidator) ValidateResource(ctx context.Context,
	req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var value timeouts.Value
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("timeouts"), &value)...)
	validateTimeouts(value, &resp.Diagnostics)
}

func validateTimeouts(value timeouts.Value, diags *diag.Diagnostics) {
	if value.IsNull() || value.IsUnknown() {
		return
	}
	for name, attribute := range value.Attributes() {
		text, ok := attribute.(types.String)
		if !ok || text.IsNull() || text.IsUnknown() {
			continue
		}
		duration, err := time.ParseDuration(text.ValueString())
		if err == nil && duration <= 0 {
			diags.AddAttributeError(path.Root("timeouts").AtName(name), "Invalid Timeout",
				fmt.Sprintf("timeouts.%s is %q, but a wait needs a positive duration, "+
					"such as \"30m\". Remove it to use the default.", name,
					text.ValueString()))
		}
	}
}
