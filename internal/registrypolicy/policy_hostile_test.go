package registrypolicy

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func imageWithManagedFields(entries ...metav1.ManagedFieldsEntry) *unstructured.Unstructured {
	object := &unstructured.Unstructured{Object: map[string]any{}}
	object.SetManagedFields(entries)
	return object
}

func searchEntry(manager string, operation metav1.ManagedFieldsOperationType,
	elements string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: operation,
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(
			`{"f:spec":{"f:registrySources":{"f:containerRuntimeSearchRegistries":{` +
				elements + `}}}}`)}}
}

func TestOwnedSetValuesPerManager(t *testing.T) {
	object := imageWithManagedFields(
		searchEntry(FieldManager, metav1.ManagedFieldsOperationApply,
			`"v:\"a.example.com\"":{},"v:\"B.example.com\"":{}`),
		searchEntry("other", metav1.ManagedFieldsOperationApply, `"v:\"c.example.com\"":{}`),
		searchEntry(FieldManager, metav1.ManagedFieldsOperationUpdate,
			`"v:\"d.example.com\"":{}`),
	)

	owned, err := OwnedSetValues(object, FieldManager, FieldSearch)
	if err != nil {
		t.Fatalf("OwnedSetValues: %v", err)
	}
	if len(owned) != 2 || !owned["a.example.com"] || !owned["B.example.com"] {
		t.Errorf("owned = %v, expected a.example.com and B.example.com", owned)
	}
}

func TestOwnedSetValuesInvalidKey(t *testing.T) {
	object := imageWithManagedFields(searchEntry(FieldManager,
		metav1.ManagedFieldsOperationApply, `"v:not-json":{},".":{}`))
	if _, err := OwnedSetValues(object, FieldManager, FieldSearch); err == nil {
		t.Error("OwnedSetValues accepted an element key that is not a JSON value")
	}
}

func TestOwnedSetValuesAbsentField(t *testing.T) {
	object := imageWithManagedFields(metav1.ManagedFieldsEntry{Manager: FieldManager,
		Operation: metav1.ManagedFieldsOperationApply, FieldsType: "FieldsV1",
		FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{}}`)}})
	owned, err := OwnedSetValues(object, FieldManager, FieldSearch)
	if err != nil || len(owned) != 0 {
		t.Errorf("OwnedSetValues = %v, %v, expected nothing", owned, err)
	}
}
