package testcluster

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// openShiftAPIModule is the module whose payload manifests supply the OpenShift CRDs. Its
// version is the one pinned in this repository's go.mod.
const openShiftAPIModule = "github.com/openshift/api"

// KubernetesImagePullerCRD is the CustomResourceDefinition of che.eclipse.org/v1alpha1
// KubernetesImagePuller, in YAML.
//
//go:embed manifests/kubernetesimagepullers.che.eclipse.org.yaml
var KubernetesImagePullerCRD []byte

var crdResource = schema.GroupVersionResource{
	Group:    "apiextensions.k8s.io",
	Version:  "v1",
	Resource: "customresourcedefinitions",
}

// openShiftCRD names one CRD in the payload manifests of github.com/openshift/api.
type openShiftCRD struct {
	group  string
	plural string
	// optional CRDs are skipped when the pinned module version lacks them.
	optional bool
}

// openShiftCRDs are the kinds that the provider reads or writes, or that the machine-config
// objects it writes refer to.
var openShiftCRDs = []openShiftCRD{
	{group: "machineconfiguration.openshift.io", plural: "kubeletconfigs"},
	{group: "machineconfiguration.openshift.io", plural: "machineconfigpools"},
	{group: "machineconfiguration.openshift.io", plural: "machineconfigs", optional: true},
	{group: "machineconfiguration.openshift.io", plural: "pinnedimagesets"},
	{group: "machineconfiguration.openshift.io", plural: "machineconfignodes", optional: true},
	{group: "config.openshift.io", plural: "imagedigestmirrorsets"},
	{group: "config.openshift.io", plural: "imagetagmirrorsets"},
	{group: "operator.openshift.io", plural: "imagecontentsourcepolicies"},
	{group: "config.openshift.io", plural: "images"},
}

// manifestVariants ranks the variants of a payload manifest file name, best first. Kinds
// whose schema depends on the feature set come in one file per feature set, and some also
// per topology. The cluster here plays a self-managed cluster with the Default feature set.
var manifestVariants = []string{"", "Default", "SelfManagedHA-Default"}

// manifestName matches payload manifest file names such as
// 0000_80_machine-config_01_machineconfigpools-Default.crd.yaml, capturing the plural and
// the variant.
var manifestName = regexp.MustCompile(`^\d{4}_\d{2}_[a-z0-9-]+_\d{2}_([a-z0-9]+)(?:-([A-Za-z-]+))?\.crd\.yaml$`)

// OpenShiftCRDManifests returns the OpenShift CRDs that Start installs, read from the
// github.com/openshift/api version pinned in go.mod, one YAML document per CRD.
func OpenShiftCRDManifests() ([][]byte, error) {
	dir, err := openShiftAPIDir()
	if err != nil {
		return nil, err
	}

	files, err := selectOpenShiftCRDFiles(filepath.Join(dir, "payload-manifests", "crds"))
	if err != nil {
		return nil, err
	}

	manifests := make([][]byte, 0, len(files))
	for _, file := range files {
		data, err := os.ReadFile(file.path)
		if err != nil {
			return nil, fmt.Errorf("reading CRD manifest: %w", err)
		}
		if err := checkCRDManifest(data, file.crd); err != nil {
			return nil, fmt.Errorf("%s: %w", file.path, err)
		}
		manifests = append(manifests, data)
	}
	return manifests, nil
}

// checkCRDManifest verifies that a manifest chosen by its file name defines the expected
// group and plural, which a file name alone does not guarantee.
func checkCRDManifest(data []byte, expected openShiftCRD) error {
	crds, err := decodeCRDs(data)
	if err != nil {
		return err
	}
	if len(crds) != 1 {
		return fmt.Errorf("expected one CRD, found %d", len(crds))
	}

	group, _, _ := unstructured.NestedString(crds[0].Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crds[0].Object, "spec", "names", "plural")
	if group != expected.group || plural != expected.plural {
		return fmt.Errorf("defines %s.%s, expected %s.%s", plural, group, expected.plural,
			expected.group)
	}
	return nil
}

// crdFile is the manifest file chosen for one CRD.
type crdFile struct {
	path string
	crd  openShiftCRD
}

// selectOpenShiftCRDFiles picks one file per CRD in openShiftCRDs from the files in dir.
func selectOpenShiftCRDFiles(dir string) ([]crdFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing OpenShift CRD manifests: %w", err)
	}

	// variants maps a plural to its files, keyed by variant.
	variants := map[string]map[string]string{}
	for _, entry := range entries {
		match := manifestName.FindStringSubmatch(entry.Name())
		if match == nil {
			continue
		}
		plural, variant := match[1], match[2]
		if variants[plural] == nil {
			variants[plural] = map[string]string{}
		}
		variants[plural][variant] = filepath.Join(dir, entry.Name())
	}

	var files []crdFile
	for _, crd := range openShiftCRDs {
		path := bestVariant(variants[crd.plural])
		if path == "" && crd.optional {
			continue
		}
		if path == "" {
			return nil, fmt.Errorf("no CRD manifest for %s.%s with a variant in %q in %s; "+
				"check the %s version in go.mod", crd.plural, crd.group, manifestVariants, dir,
				openShiftAPIModule)
		}
		files = append(files, crdFile{path: path, crd: crd})
	}
	return files, nil
}

func bestVariant(files map[string]string) string {
	for _, variant := range manifestVariants {
		if path, ok := files[variant]; ok {
			return path
		}
	}
	return ""
}

var openShiftAPIDirCache struct {
	once sync.Once
	dir  string
	err  error
}

// openShiftAPIDir returns the module cache directory of the pinned github.com/openshift/api,
// downloading the module when the cache lacks it.
func openShiftAPIDir() (string, error) {
	cache := &openShiftAPIDirCache
	cache.once.Do(func() {
		cache.dir, cache.err = lookUpOpenShiftAPIDir()
	})
	return cache.dir, cache.err
}

func lookUpOpenShiftAPIDir() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}

	output, err := runGo(root, "list", "-m", "-f", "{{.Dir}}", openShiftAPIModule)
	if err != nil {
		return "", err
	}
	if dir := strings.TrimSpace(string(output)); dir != "" {
		return dir, nil
	}

	// go list prints no directory for a module that is required but not downloaded.
	output, err = runGo(root, "mod", "download", "-json", openShiftAPIModule)
	if err != nil {
		return "", err
	}
	var download struct{ Dir, Error string }
	if err := json.Unmarshal(output, &download); err != nil {
		return "", fmt.Errorf("parsing go mod download output: %w", err)
	}
	if download.Error != "" || download.Dir == "" {
		return "", fmt.Errorf("downloading %s failed: %s", openShiftAPIModule, download.Error)
	}
	return download.Dir, nil
}

func runGo(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	output, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s failed: %w: %s", strings.Join(args, " "), err,
			strings.TrimSpace(stderr.String()))
	}
	return output, nil
}

func (c *Cluster) installCRDs(ctx context.Context) error {
	manifests, err := OpenShiftCRDManifests()
	if err != nil {
		return err
	}
	manifests = append(manifests, KubernetesImagePullerCRD)
	return InstallCRDs(ctx, c.config, manifests...)
}

// InstallCRDs creates or updates the CustomResourceDefinitions in manifests, each a YAML
// stream of one or more documents, then waits until every one is Established and its
// resource appears in discovery.
func InstallCRDs(ctx context.Context, config *rest.Config, manifests ...[]byte) error {
	// The OpenShift schemas use formats that the API server does not know, such as
	// "hostname", and each draws a warning that would otherwise go to stderr.
	config = rest.CopyConfig(config)
	config.WarningHandler = rest.NoWarnings{}

	client, err := dynamic.NewForConfig(config)
	if err != nil {
		return fmt.Errorf("building a dynamic client: %w", err)
	}
	discoveryClient, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return fmt.Errorf("building a discovery client: %w", err)
	}

	var crds []*unstructured.Unstructured
	for _, manifest := range manifests {
		documents, err := decodeCRDs(manifest)
		if err != nil {
			return err
		}
		crds = append(crds, documents...)
	}

	for _, crd := range crds {
		if err := applyCRD(ctx, client, crd); err != nil {
			return err
		}
	}
	for _, crd := range crds {
		if err := waitForCRD(ctx, client, discoveryClient, crd); err != nil {
			return err
		}
	}
	return nil
}

// decodeCRDs splits a YAML stream into CRD objects, skipping empty documents.
func decodeCRDs(manifest []byte) ([]*unstructured.Unstructured, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifest)))
	var crds []*unstructured.Unstructured
	for {
		document, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return crds, nil
		}
		if err != nil {
			return nil, fmt.Errorf("splitting a CRD manifest into documents: %w", err)
		}

		var object map[string]any
		if err := yaml.Unmarshal(document, &object); err != nil {
			return nil, fmt.Errorf("parsing a CRD manifest: %w", err)
		}
		if len(object) == 0 {
			continue
		}

		crd := &unstructured.Unstructured{Object: object}
		if crd.GetKind() != "CustomResourceDefinition" || crd.GetName() == "" {
			return nil, fmt.Errorf("manifest document of kind %q named %q is not a "+
				"CustomResourceDefinition", crd.GetKind(), crd.GetName())
		}
		crds = append(crds, crd)
	}
}

func applyCRD(ctx context.Context, client dynamic.Interface, crd *unstructured.Unstructured) error {
	resource := client.Resource(crdResource)
	_, err := resource.Create(ctx, crd, metav1.CreateOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating CRD %s: %w", crd.GetName(), err)
	}

	existing, err := resource.Get(ctx, crd.GetName(), metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading CRD %s: %w", crd.GetName(), err)
	}
	crd = crd.DeepCopy()
	crd.SetResourceVersion(existing.GetResourceVersion())
	if _, err := resource.Update(ctx, crd, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating CRD %s: %w", crd.GetName(), err)
	}
	return nil
}

// waitForCRD waits until the CRD has the condition Established=True and discovery lists its
// resource in every served version. Clients that build their REST mapping from discovery fail
// on a CRD that is established but not yet discoverable.
func waitForCRD(ctx context.Context, client dynamic.Interface,
	discoveryClient discovery.DiscoveryInterface, crd *unstructured.Unstructured) error {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	versions := servedVersions(crd)

	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	lastReason := ""
	for {
		ready, reason := crdReady(ctx, client, discoveryClient, crd.GetName(), group, plural,
			versions)
		if ready {
			return nil
		}
		lastReason = reason

		select {
		case <-ctx.Done():
			return fmt.Errorf("CRD %s not ready (%w): %s", crd.GetName(), ctx.Err(), lastReason)
		case <-ticker.C:
		}
	}
}

func crdReady(ctx context.Context, client dynamic.Interface,
	discoveryClient discovery.DiscoveryInterface, name, group, plural string,
	versions []string) (bool, string) {
	current, err := client.Resource(crdResource).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, err.Error()
	}
	if !crdEstablished(current) {
		return false, "condition Established is not True yet"
	}

	for _, version := range versions {
		resources, err := discoveryClient.ServerResourcesForGroupVersion(group + "/" + version)
		if err != nil {
			return false, fmt.Sprintf("discovery of %s/%s: %v", group, version, err)
		}
		found := slices.ContainsFunc(resources.APIResources, func(r metav1.APIResource) bool {
			return r.Name == plural
		})
		if !found {
			return false, fmt.Sprintf("discovery of %s/%s does not list %s yet", group, version,
				plural)
		}
	}
	return true, ""
}

func crdEstablished(crd *unstructured.Unstructured) bool {
	conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, item := range conditions {
		condition, ok := item.(map[string]any)
		if ok && condition["type"] == "Established" && condition["status"] == "True" {
			return true
		}
	}
	return false
}

func servedVersions(crd *unstructured.Unstructured) []string {
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	var served []string
	for _, item := range versions {
		version, ok := item.(map[string]any)
		if !ok {
			continue
		}
		if name, ok := version["name"].(string); ok && version["served"] == true {
			served = append(served, name)
		}
	}
	return served
}
