package testcluster

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestSelectOpenShiftCRDFiles(t *testing.T) {
	dir := t.TempDir()
	names := []string{
		"0000_80_machine-config_01_kubeletconfigs.crd.yaml",
		"0000_80_machine-config_01_machineconfigpools-CustomNoUpgrade.crd.yaml",
		"0000_80_machine-config_01_machineconfigpools-Default.crd.yaml",
		"0000_80_machine-config_01_machineconfigpools-TechPreviewNoUpgrade.crd.yaml",
		"0000_80_machine-config_01_machineconfignodes-Hypershift-Default.crd.yaml",
		"0000_80_machine-config_01_machineconfignodes-SelfManagedHA-Default.crd.yaml",
		"0000_80_machine-config_01_machineconfignodes-SelfManagedHA-OKD.crd.yaml",
		"0000_80_machine-config_01_pinnedimagesets.crd.yaml",
		"0000_10_config-operator_01_imagedigestmirrorsets.crd.yaml",
		"0000_10_config-operator_01_imagetagmirrorsets.crd.yaml",
		"0000_10_config-operator_01_imagecontentsourcepolicies.crd.yaml",
		"0000_10_config-operator_01_images.crd.yaml",
		// Names that must not be taken for images.
		"0000_10_config-operator_01_imagepolicies.crd.yaml",
		"0000_10_config-operator_01_imagecontentpolicies.crd.yaml",
		"README.md",
	}
	for _, name := range names {
		writeFile(t, filepath.Join(dir, name), "")
	}

	files, err := selectOpenShiftCRDFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var chosen []string
	for _, file := range files {
		chosen = append(chosen, filepath.Base(file.path))
	}
	expected := []string{
		"0000_80_machine-config_01_kubeletconfigs.crd.yaml",
		"0000_80_machine-config_01_machineconfigpools-Default.crd.yaml",
		// machineconfigs is optional and missing here.
		"0000_80_machine-config_01_pinnedimagesets.crd.yaml",
		"0000_80_machine-config_01_machineconfignodes-SelfManagedHA-Default.crd.yaml",
		"0000_10_config-operator_01_imagedigestmirrorsets.crd.yaml",
		"0000_10_config-operator_01_imagetagmirrorsets.crd.yaml",
		"0000_10_config-operator_01_imagecontentsourcepolicies.crd.yaml",
		"0000_10_config-operator_01_images.crd.yaml",
	}
	if !slices.Equal(chosen, expected) {
		t.Errorf("chosen files:\n%s\nexpected:\n%s", strings.Join(chosen, "\n"),
			strings.Join(expected, "\n"))
	}
}

func TestSelectOpenShiftCRDFilesMissingRequired(t *testing.T) {
	dir := t.TempDir()
	// Only a feature-set variant that Start must not install.
	writeFile(t, filepath.Join(dir,
		"0000_80_machine-config_01_kubeletconfigs-TechPreviewNoUpgrade.crd.yaml"), "")

	_, err := selectOpenShiftCRDFiles(dir)
	if err == nil || !strings.Contains(err.Error(), "kubeletconfigs.machineconfiguration.openshift.io") {
		t.Errorf("error = %v, expected one naming kubeletconfigs", err)
	}
}

func TestOpenShiftCRDManifestsFromModule(t *testing.T) {
	manifests, err := OpenShiftCRDManifests()
	if err != nil {
		t.Fatal(err)
	}

	var names []string
	for _, manifest := range manifests {
		crds, err := decodeCRDs(manifest)
		if err != nil {
			t.Fatal(err)
		}
		for _, crd := range crds {
			names = append(names, crd.GetName())
		}
	}
	slices.Sort(names)

	var expected []string
	for _, name := range expectedCRDs {
		if !strings.HasSuffix(name, ".che.eclipse.org") {
			expected = append(expected, name)
		}
	}
	slices.Sort(expected)
	if !slices.Equal(names, expected) {
		t.Errorf("CRDs from github.com/openshift/api = %q, expected %q", names, expected)
	}
}

func TestKubernetesImagePullerCRDSchema(t *testing.T) {
	crds, err := decodeCRDs(KubernetesImagePullerCRD)
	if err != nil {
		t.Fatal(err)
	}
	if len(crds) != 1 {
		t.Fatalf("found %d documents, expected 1", len(crds))
	}
	crd := crds[0].Object

	checks := []struct {
		path     []string
		expected string
	}{
		{[]string{"metadata", "name"}, "kubernetesimagepullers.che.eclipse.org"},
		{[]string{"spec", "group"}, "che.eclipse.org"},
		{[]string{"spec", "scope"}, "Namespaced"},
		{[]string{"spec", "names", "kind"}, "KubernetesImagePuller"},
		{[]string{"spec", "names", "plural"}, "kubernetesimagepullers"},
	}
	for _, check := range checks {
		value, _, _ := unstructured.NestedString(crd, check.path...)
		if value != check.expected {
			t.Errorf("%s = %q, expected %q", strings.Join(check.path, "."), value, check.expected)
		}
	}

	versions, _, _ := unstructured.NestedSlice(crd, "spec", "versions")
	if len(versions) != 1 {
		t.Fatalf("found %d versions, expected 1", len(versions))
	}
	version := versions[0].(map[string]any)
	if version["name"] != "v1alpha1" || version["served"] != true || version["storage"] != true {
		t.Errorf("version = %v/%v/%v, expected v1alpha1 served and stored", version["name"],
			version["served"], version["storage"])
	}
	if _, ok, _ := unstructured.NestedMap(version, "subresources", "status"); !ok {
		t.Errorf("status subresource missing")
	}

	schema, _, _ := unstructured.NestedMap(version, "schema", "openAPIV3Schema", "properties")
	spec, _, _ := unstructured.NestedMap(schema, "spec", "properties")
	expectedSpec := []string{
		"affinity", "cachingCPULimit", "cachingCPURequest", "cachingIntervalHours",
		"cachingMemoryLimit", "cachingMemoryRequest", "configMapName", "daemonsetName",
		"deploymentName", "imagePullSecrets", "imagePullerImage", "images", "nodeSelector",
		"tolerations",
	}
	var specFields []string
	for field, definition := range spec {
		specFields = append(specFields, field)
		if kind := definition.(map[string]any)["type"]; kind != "string" {
			t.Errorf("spec.%s has type %v, expected string", field, kind)
		}
	}
	slices.Sort(specFields)
	if !slices.Equal(specFields, expectedSpec) {
		t.Errorf("spec fields = %q, expected %q", specFields, expectedSpec)
	}

	status, _, _ := unstructured.NestedMap(schema, "status", "properties")
	if kind, _, _ := unstructured.NestedString(status, "imagePullerImage", "type"); kind != "string" {
		t.Errorf("status.imagePullerImage has type %q, expected string", kind)
	}
	listType, _, _ := unstructured.NestedString(status, "conditions", "x-kubernetes-list-type")
	if listType != "map" {
		t.Errorf("status.conditions list type = %q, expected map keyed by type", listType)
	}
}

func TestDecodeCRDs(t *testing.T) {
	stream := []byte(`---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: one.example.com
---
# only a comment
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: two.example.com
`)
	crds, err := decodeCRDs(stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(crds) != 2 || crds[0].GetName() != "one.example.com" ||
		crds[1].GetName() != "two.example.com" {
		t.Errorf("decoded %d CRDs, expected one.example.com and two.example.com", len(crds))
	}

	_, err = decodeCRDs([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"))
	if err == nil || !strings.Contains(err.Error(), "Deployment") {
		t.Errorf("decoding a Deployment: error = %v, expected one naming the kind", err)
	}
}
