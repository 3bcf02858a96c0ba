package registrypolicy

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
)

// ClusterVersionResource is the resource of config.openshift.io/v1 ClusterVersion, whose
// object ClusterVersionName reports the release image the cluster runs.
var ClusterVersionResource = schema.GroupVersionResource{
	Group: "config.openshift.io", Version: "v1", Resource: "clusterversions",
}

// ClusterVersionName is the name of the only ClusterVersion object.
const ClusterVersionName = "version"

// DefaultReleaseRepositories are the quay.io repositories of OpenShift's release images and
// of the component images they reference. They stand in for the cluster's own release
// repository when the cluster does not report one.
var DefaultReleaseRepositories = []string{
	"quay.io/openshift-release-dev/ocp-release",
	"quay.io/openshift-release-dev/ocp-v4.0-art-dev",
}

// ReleaseRepository returns the repository of the release image in a ClusterVersion's
// status.desired.image, such as "quay.io/openshift-release-dev/ocp-release", or "" when the
// object reports none.
func ReleaseRepository(clusterVersion *unstructured.Unstructured) (string, error) {
	image, _, err := unstructured.NestedString(clusterVersion.Object, "status", "desired",
		"image")
	if err != nil {
		return "", fmt.Errorf("reading status.desired.image: %w", err)
	}
	if image == "" {
		return "", nil
	}
	reference, err := imageref.Parse(image)
	if err != nil {
		return "", fmt.Errorf("parsing the release image %q: %w", image, err)
	}
	return reference.Registry + "/" + reference.Repository, nil
}

// WithComponents returns repository and, for a release repository named ocp-release, the
// ocp-v4.0-art-dev repository beside it, where OpenShift publishes the component images that
// such a release references. Nodes pull those components, so blocking them breaks the
// cluster too. Other repositories, such as a mirror's, are returned alone, because where a
// mirror keeps the components depends on how it was filled.
func WithComponents(repository string) []string {
	parent, found := strings.CutSuffix(repository, "/ocp-release")
	if !found {
		return []string{repository}
	}
	return []string{repository, parent + "/ocp-v4.0-art-dev"}
}

// Block is a repository that a policy stops nodes from pulling.
type Block struct {
	Repository string
	// Field is FieldAllowed when no entry of the allowed list matches the repository, and
	// FieldBlocked when Entry of the blocked list matches it.
	Field Field
	Entry string
}

// BlockedRepositories returns the repositories among repositories that the policy's allowed
// or blocked registries stop nodes from pulling. An allowed list blocks every repository that
// none of its entries matches.
func BlockedRepositories(p Policy, repositories []string) []Block {
	var blocks []Block
	for _, repository := range repositories {
		switch {
		case p.Allowed != nil:
			if matchingEntry(p.Allowed, repository) == "" {
				blocks = append(blocks, Block{Repository: repository, Field: FieldAllowed})
			}
		case p.Blocked != nil:
			if entry := matchingEntry(p.Blocked, repository); entry != "" {
				blocks = append(blocks, Block{Repository: repository, Field: FieldBlocked,
					Entry: entry})
			}
		}
	}
	return blocks
}

// matchingEntry returns the first entry that covers repository, or "". Entries match like
// the docker scopes of containers-policy.json(5), where the machine-config operator writes
// them. "host[:port]" covers every repository on that registry, "host/path" that repository
// and those below it, and "*.domain" every host under domain but not domain itself.
func matchingEntry(entries []string, repository string) string {
	hostPort, _, _ := strings.Cut(repository, "/")
	host, _, _ := strings.Cut(hostPort, ":")
	for _, entry := range entries {
		if domain, ok := strings.CutPrefix(entry, "*."); ok {
			if strings.HasSuffix(strings.ToLower(host), "."+strings.ToLower(domain)) {
				return entry
			}
			continue
		}
		if sameLocation(entry, repository) ||
			strings.HasPrefix(canonical(repository), canonical(entry)+"/") {
			return entry
		}
	}
	return ""
}

func sameLocation(a, b string) bool {
	return canonical(a) == canonical(b)
}

// canonical lowercases the host part of a location, because host names are
// case-insensitive, and keeps the path, which the grammar requires to be lowercase already.
func canonical(location string) string {
	hostPort, path, hasPath := strings.Cut(location, "/")
	if !hasPath {
		return strings.ToLower(hostPort)
	}
	return strings.ToLower(hostPort) + "/" + path
}
