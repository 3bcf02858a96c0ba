package provider

import (
	"github.com/hashicorp/terraform-plugin-framework/attr"
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
