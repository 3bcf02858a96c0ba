// Package registrypolicy contains the domain logic behind the registry fields of OpenShift's
// cluster-wide image configuration, the config.openshift.io/v1 Image named "cluster". It
// checks them with OpenShift's rules, renders them as a server-side apply intent, reads back
// the fields that one field manager owns, and finds the release repositories a policy blocks.
//
// The package imports no Terraform module, so it is tested without Terraform or a cluster.
package registrypolicy

import (
	"encoding/json"
	"fmt"
	"strings"

	configv1 "github.com/openshift/api/config/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

const (
	// ObjectName is the name of the only Image object that OpenShift reads.
	ObjectName = "cluster"
	// FieldManager is the server-side apply field manager that owns the managed fields.
	FieldManager = "imagedist-registry-policy"
)

// ImageResource is the resource of config.openshift.io/v1 Image.
var ImageResource = schema.GroupVersionResource{
	Group: "config.openshift.io", Version: "v1", Resource: "images",
}

// Field is one managed field of the Image spec, named as in its JSON.
type Field string

// The managed fields. The first four are in spec.registrySources, the last in spec.
const (
	FieldAllowed  Field = "allowedRegistries"
	FieldBlocked  Field = "blockedRegistries"
	FieldInsecure Field = "insecureRegistries"
	FieldSearch   Field = "containerRuntimeSearchRegistries"
	FieldImport   Field = "allowedRegistriesForImport"
)

// Fields lists every managed field.
var Fields = []Field{FieldAllowed, FieldBlocked, FieldInsecure, FieldSearch, FieldImport}

// Path returns the field's path in the Image object.
func (f Field) Path() []string {
	if f == FieldImport {
		return []string{"spec", string(f)}
	}
	return []string{"spec", "registrySources", string(f)}
}

// Policy is the values of the managed fields. A nil slice is a field that is not set.
type Policy struct {
	Allowed  []string
	Blocked  []string
	Insecure []string
	Search   []string
	Import   []configv1.RegistryLocation
}

// Strings returns the value of a string list field, or nil for FieldImport.
func (p Policy) Strings(field Field) []string {
	switch field {
	case FieldAllowed:
		return p.Allowed
	case FieldBlocked:
		return p.Blocked
	case FieldInsecure:
		return p.Insecure
	case FieldSearch:
		return p.Search
	}
	return nil
}

// IsSet reports whether the policy sets field.
func (p Policy) IsSet(field Field) bool {
	if field == FieldImport {
		return p.Import != nil
	}
	return p.Strings(field) != nil
}

// ApplyObject renders the policy as a server-side apply intent for the Image "cluster". It
// holds only the fields that the policy sets, so applying it with FieldManager releases every
// field that the manager owned before and the policy no longer sets. The zero Policy releases
// them all. The typed configv1.ImageSpec is not used for the whole spec, because it would add
// an empty additionalTrustedCA and take ownership of it.
func ApplyObject(p Policy) (*unstructured.Unstructured, error) {
	sources, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&configv1.RegistrySources{
		AllowedRegistries:                p.Allowed,
		BlockedRegistries:                p.Blocked,
		InsecureRegistries:               p.Insecure,
		ContainerRuntimeSearchRegistries: p.Search,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding registrySources: %w", err)
	}

	spec := map[string]any{}
	if len(sources) > 0 {
		spec["registrySources"] = sources
	}
	if p.Import != nil {
		locations := make([]any, len(p.Import))
		for i := range p.Import {
			location, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&p.Import[i])
			if err != nil {
				return nil, fmt.Errorf("encoding allowedRegistriesForImport: %w", err)
			}
			locations[i] = location
		}
		spec[string(FieldImport)] = locations
	}

	object := map[string]any{
		"apiVersion": configv1.GroupVersion.String(),
		"kind":       "Image",
		"metadata":   map[string]any{"name": ObjectName},
	}
	if len(spec) > 0 {
		object["spec"] = spec
	}
	return &unstructured.Unstructured{Object: object}, nil
}

// FromObject reads the values of every managed field from an Image object.
func FromObject(object *unstructured.Unstructured) (Policy, error) {
	var p Policy
	for _, field := range Fields {
		if field == FieldImport {
			continue
		}
		values, found, err := unstructured.NestedStringSlice(object.Object, field.Path()...)
		if err != nil {
			return Policy{}, fmt.Errorf("reading spec.registrySources.%s: %w", field, err)
		}
		if !found {
			continue
		}
		if values == nil {
			values = []string{}
		}
		switch field {
		case FieldAllowed:
			p.Allowed = values
		case FieldBlocked:
			p.Blocked = values
		case FieldInsecure:
			p.Insecure = values
		case FieldSearch:
			p.Search = values
		}
	}

	items, found, err := unstructured.NestedSlice(object.Object, FieldImport.Path()...)
	if err != nil {
		return Policy{}, fmt.Errorf("reading spec.%s: %w", FieldImport, err)
	}
	if !found {
		return p, nil
	}
	p.Import = make([]configv1.RegistryLocation, len(items))
	for i, item := range items {
		fields, ok := item.(map[string]any)
		if !ok {
			return Policy{}, fmt.Errorf("reading spec.%s[%d]: expected an object, found %T",
				FieldImport, i, item)
		}
		err := runtime.DefaultUnstructuredConverter.FromUnstructured(fields, &p.Import[i])
		if err != nil {
			return Policy{}, fmt.Errorf("reading spec.%s[%d]: %w", FieldImport, i, err)
		}
	}
	return p, nil
}

// Only returns the policy with the fields that keep reports true, and the others unset.
func (p Policy) Only(keep func(Field) bool) Policy {
	var out Policy
	if keep(FieldAllowed) {
		out.Allowed = p.Allowed
	}
	if keep(FieldBlocked) {
		out.Blocked = p.Blocked
	}
	if keep(FieldInsecure) {
		out.Insecure = p.Insecure
	}
	if keep(FieldSearch) {
		out.Search = p.Search
	}
	if keep(FieldImport) {
		out.Import = p.Import
	}
	return out
}

// OwnedFields returns the managed fields that manager owns through server-side apply, read
// from the object's metadata.managedFields. Ownership taken with an update (such as `oc
// edit`) is not counted, because this resource only ever applies.
func OwnedFields(object *unstructured.Unstructured, manager string) (map[Field]bool, error) {
	owned := map[Field]bool{}
	for _, entry := range object.GetManagedFields() {
		if entry.Manager != manager || entry.Operation != metav1.ManagedFieldsOperationApply ||
			entry.FieldsV1 == nil {
			continue
		}
		var set map[string]any
		if err := json.Unmarshal(entry.FieldsV1.Raw, &set); err != nil {
			return nil, fmt.Errorf("decoding the managed fields of %s: %w", manager, err)
		}
		for _, field := range Fields {
			if hasFieldPath(set, field.Path()) {
				owned[field] = true
			}
		}
	}
	return owned, nil
}

// OwnedSetValues returns the elements of the set list at field that manager owns through
// server-side apply. In a set list (x-kubernetes-list-type: set) each element has its own
// owners, which FieldsV1 names by the element's JSON value, such as `v:"example.com"`.
func OwnedSetValues(object *unstructured.Unstructured, manager string, field Field,
) (map[string]bool, error) {
	owned := map[string]bool{}
	for _, entry := range object.GetManagedFields() {
		if entry.Manager != manager || entry.Operation != metav1.ManagedFieldsOperationApply ||
			entry.FieldsV1 == nil {
			continue
		}
		var set map[string]any
		if err := json.Unmarshal(entry.FieldsV1.Raw, &set); err != nil {
			return nil, fmt.Errorf("decoding the managed fields of %s: %w", manager, err)
		}
		elements, ok := fieldSet(set, field.Path())
		if !ok {
			continue
		}
		for key := range elements {
			encoded, ok := strings.CutPrefix(key, "v:")
			if !ok {
				continue
			}
			var value string
			if err := json.Unmarshal([]byte(encoded), &value); err != nil {
				return nil, fmt.Errorf("decoding the managed element %s of %s: %w", key,
					field, err)
			}
			owned[value] = true
		}
	}
	return owned, nil
}

// hasFieldPath reports whether a FieldsV1 set contains the field at path, whose parts are
// JSON field names that the set writes with an "f:" prefix.
func hasFieldPath(set map[string]any, path []string) bool {
	_, ok := fieldSet(set, path)
	return ok
}

// fieldSet returns the part of a FieldsV1 set at path, whose parts are JSON field names.
func fieldSet(set map[string]any, path []string) (map[string]any, bool) {
	current := set
	for _, part := range path {
		next, ok := current["f:"+part].(map[string]any)
		if !ok {
			return nil, false
		}
		current = next
	}
	return current, true
}
