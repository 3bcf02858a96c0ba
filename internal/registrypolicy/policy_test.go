package registrypolicy

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	configv1 "github.com/openshift/api/config/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var testNames = map[Field]string{
	FieldAllowed:  "allowed",
	FieldBlocked:  "blocked",
	FieldInsecure: "insecure",
	FieldSearch:   "search",
	FieldImport:   "import",
}

func TestApplyObjectOnlySetFields(t *testing.T) {
	object, err := ApplyObject(Policy{
		Allowed: []string{"quay.io"},
		Import:  []configv1.RegistryLocation{{DomainName: "a.example.com", Insecure: true}},
	})
	if err != nil {
		t.Fatal(err)
	}

	spec, _, _ := unstructured.NestedMap(object.Object, "spec")
	want := map[string]any{
		"registrySources": map[string]any{"allowedRegistries": []any{"quay.io"}},
		"allowedRegistriesForImport": []any{
			map[string]any{"domainName": "a.example.com", "insecure": true},
		},
	}
	if !reflect.DeepEqual(spec, want) {
		t.Errorf("spec = %v, want %v", spec, want)
	}
	if object.GetName() != ObjectName {
		t.Errorf("name = %q, want %q", object.GetName(), ObjectName)
	}
}

func TestApplyObjectEmptyPolicy(t *testing.T) {
	object, err := ApplyObject(Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if _, found := object.Object["spec"]; found {
		t.Errorf("the empty intent has a spec: %v", object.Object["spec"])
	}
}

func TestFromObjectRoundTrip(t *testing.T) {
	policy := Policy{
		Blocked:  []string{"docker.io"},
		Insecure: []string{"insecure.example.com:5000"},
		Search:   []string{"registry.example.com"},
		Import:   []configv1.RegistryLocation{{DomainName: "quay.io"}},
	}
	object, err := ApplyObject(policy)
	if err != nil {
		t.Fatal(err)
	}

	read, err := FromObject(object)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(read, policy) {
		t.Errorf("FromObject = %+v, want %+v", read, policy)
	}
}

func TestOwnedFields(t *testing.T) {
	object := &unstructured.Unstructured{Object: map[string]any{}}
	object.SetManagedFields([]metav1.ManagedFieldsEntry{
		{
			Manager: FieldManager, Operation: metav1.ManagedFieldsOperationApply,
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:registrySources":` +
				`{"f:allowedRegistries":{}},"f:allowedRegistriesForImport":{}}}`)},
		},
		{
			// Another manager's field and an update by this manager's name do not count.
			Manager: "other", Operation: metav1.ManagedFieldsOperationApply,
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:registrySources":` +
				`{"f:insecureRegistries":{}}}}`)},
		},
		{
			Manager: FieldManager, Operation: metav1.ManagedFieldsOperationUpdate,
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:registrySources":` +
				`{"f:containerRuntimeSearchRegistries":{}}}}`)},
		},
	})

	owned, err := OwnedFields(object, FieldManager)
	if err != nil {
		t.Fatal(err)
	}
	want := map[Field]bool{FieldAllowed: true, FieldImport: true}
	if !reflect.DeepEqual(owned, want) {
		t.Errorf("OwnedFields = %v, want %v", owned, want)
	}
}

func TestValidateValid(t *testing.T) {
	policy := Policy{
		Allowed: []string{"quay.io", "*.example.com", "registry.example.com:5000/team/app",
			"Registry.Example.com"},
		Insecure: []string{"localhost:5000"},
		Search:   []string{"registry.example.com", "localhost"},
		Import: []configv1.RegistryLocation{{DomainName: "*.example.com:5000"},
			{DomainName: "quay.io"}},
	}
	if problems := Validate(policy, testNames); len(problems) > 0 {
		t.Errorf("Validate = %v, want no problems", problems)
	}
}

func TestValidateInvalid(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		field  Field
		index  int
		detail string
	}{
		{"allowed and blocked", Policy{Allowed: []string{"a.io"}, Blocked: []string{"b.io"}},
			FieldBlocked, -1, "cannot both be set"},
		{"empty list", Policy{Insecure: []string{}}, FieldInsecure, -1, "empty list"},
		{"too many", Policy{Blocked: repeated(MaxEntries + 1)}, FieldBlocked, -1,
			"at most 1024"},
		{"empty entry", Policy{Allowed: []string{"quay.io", ""}}, FieldAllowed, 1, "is empty"},
		{"too long", Policy{Allowed: []string{"a.io/" + strings.Repeat("a", 252)}},
			FieldAllowed, 0, "at most 256"},
		{"scheme", Policy{Blocked: []string{"https://quay.io"}}, FieldBlocked, 0, "scheme"},
		{"tag", Policy{Blocked: []string{"quay.io/team/app:latest"}}, FieldBlocked, 0, "tag"},
		{"digest", Policy{Blocked: []string{"quay.io/app@sha256:abc"}}, FieldBlocked, 0,
			"digest"},
		{"wildcard path", Policy{Insecure: []string{"*.example.com/team"}}, FieldInsecure, 0,
			"wildcard with a path"},
		{"wildcard inside", Policy{Insecure: []string{"a.*.example.com"}}, FieldInsecure, 0,
			"character"},
		{"search port", Policy{Search: []string{"registry.example.com:5000"}}, FieldSearch, 0,
			"not a host name"},
		{"search wildcard", Policy{Search: []string{"*.example.com"}}, FieldSearch, 0,
			"not a host name"},
		{"search duplicate", Policy{Search: []string{"a.io", "A.io"}}, FieldSearch, 1,
			"listed twice"},
		{"import scheme", Policy{Import: []configv1.RegistryLocation{{DomainName: "http://a"}}},
			FieldImport, 0, "scheme"},
		{"import path", Policy{Import: []configv1.RegistryLocation{{DomainName: "a.io/b"}}},
			FieldImport, 0, "path"},
		{"import empty", Policy{Import: []configv1.RegistryLocation{{}}}, FieldImport, 0,
			"is empty"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			problems := Validate(test.policy, testNames)
			if len(problems) != 1 {
				t.Fatalf("Validate = %v, want one problem", problems)
			}
			if problems[0].Field != test.field {
				t.Errorf("field = %s, want %s", problems[0].Field, test.field)
			}
			if problems[0].Index != test.index {
				t.Errorf("index = %d, want %d", problems[0].Index, test.index)
			}
			if !strings.Contains(problems[0].Detail, test.detail) {
				t.Errorf("detail %q does not contain %q", problems[0].Detail, test.detail)
			}
		})
	}
}

func repeated(count int) []string {
	values := make([]string, count)
	for i := range values {
		values[i] = "quay.io"
	}
	return values
}

func TestReleaseRepository(t *testing.T) {
	object := &unstructured.Unstructured{Object: map[string]any{
		"status": map[string]any{"desired": map[string]any{
			"image": "registry.example.com:5000/ocp/release@sha256:" + strings.Repeat("a", 64),
		}},
	}}
	repository, err := ReleaseRepository(object)
	if err != nil {
		t.Fatal(err)
	}
	if repository != "registry.example.com:5000/ocp/release" {
		t.Errorf("ReleaseRepository = %q", repository)
	}

	repository, err = ReleaseRepository(&unstructured.Unstructured{Object: map[string]any{}})
	if err != nil || repository != "" {
		t.Errorf("ReleaseRepository without status = %q, %v; want \"\", nil", repository, err)
	}
}

func TestBlockedRepositories(t *testing.T) {
	release := DefaultReleaseRepositories
	tests := []struct {
		name   string
		policy Policy
		want   []Block
	}{
		{"no lists", Policy{Insecure: []string{"quay.io"}}, nil},
		{"allowed host", Policy{Allowed: []string{"QUAY.io"}}, nil},
		{"allowed namespace", Policy{Allowed: []string{"quay.io/openshift-release-dev"}}, nil},
		{"allowed wildcard", Policy{Allowed: []string{"*.io"}}, nil},
		{"allowed other", Policy{Allowed: []string{"registry.example.com"}}, []Block{
			{Repository: release[0], Field: FieldAllowed},
			{Repository: release[1], Field: FieldAllowed},
		}},
		{"allowed one repository", Policy{Allowed: []string{release[0]}}, []Block{
			{Repository: release[1], Field: FieldAllowed},
		}},
		{"allowed prefix of a name", Policy{Allowed: []string{"quay.io/openshift"}}, []Block{
			{Repository: release[0], Field: FieldAllowed},
			{Repository: release[1], Field: FieldAllowed},
		}},
		{"blocked host", Policy{Blocked: []string{"docker.io", "quay.io"}}, []Block{
			{Repository: release[0], Field: FieldBlocked, Entry: "quay.io"},
			{Repository: release[1], Field: FieldBlocked, Entry: "quay.io"},
		}},
		{"blocked wildcard does not cover the domain", Policy{Blocked: []string{"*.quay.io"}},
			nil},
		{"blocked other", Policy{Blocked: []string{"docker.io"}}, nil},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got := BlockedRepositories(test.policy, release)
			if !reflect.DeepEqual(got, test.want) {
				t.Errorf("BlockedRepositories = %+v, want %+v", got, test.want)
			}
		})
	}
}

func TestWithComponents(t *testing.T) {
	tests := map[string][]string{
		"quay.io/openshift-release-dev/ocp-release": {
			"quay.io/openshift-release-dev/ocp-release",
			"quay.io/openshift-release-dev/ocp-v4.0-art-dev",
		},
		"mirror.example.com:5000/ocp4/openshift4": {"mirror.example.com:5000/ocp4/openshift4"},
	}
	for repository, expected := range tests {
		if got := WithComponents(repository); !slices.Equal(got, expected) {
			t.Errorf("WithComponents(%q) = %v, expected %v", repository, got, expected)
		}
	}
}

func TestValidateHostPort(t *testing.T) {
	names := map[Field]string{FieldAllowed: "allowed_registries"}
	for value, valid := range map[string]bool{
		"registry.example.com:5000/team":  true,
		"registry.example.com:65535":      true,
		"registry.example.com:0":          false,
		"registry.example.com:99999/team": false,
	} {
		problems := Validate(Policy{Allowed: []string{value}}, names)
		if got := len(problems) == 0; got != valid {
			t.Errorf("Validate(%q) problems = %v, expected valid %v", value, problems, valid)
		}
	}
}
