package puller

import (
	"fmt"
	"slices"
	"strings"

	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
)

// MaxPinnedImages is the most images one PinnedImageSet holds, as its CRD allows
// (github.com/openshift/api machineconfiguration/v1, spec.pinnedImages maxItems).
const MaxPinnedImages = 500

// ReasonPinningFailed is the reason of an ImageError for a node whose machine-config daemon
// reports a failed generation of the set.
const ReasonPinningFailed = "PinnedImageSetFailed"

// ValidatePinned checks images for a PinnedImageSet: every reference must name a digest,
// because OpenShift pins images by digest only, and there may be at most MaxPinnedImages.
func ValidatePinned(images []Image) []Problem {
	var problems []Problem
	if len(images) > MaxPinnedImages {
		problems = append(problems, Problem{
			Summary: "Too Many Pinned Images",
			Detail: fmt.Sprintf("A PinnedImageSet holds at most %d images, but images has "+
				"%d. Split them over several imagedist_image_puller resources.",
				MaxPinnedImages, len(images)),
		})
	}
	for _, image := range images {
		reference, err := imageref.Parse(image.Reference)
		if err != nil || reference.Digest != "" {
			continue
		}
		problems = append(problems, Problem{
			Key:     image.Key,
			Summary: "Pinned Image Without Digest",
			Detail: fmt.Sprintf("images[%q] is %q, which has no digest. The pinned backend "+
				"needs digest references, such as %q, because OpenShift pins images by "+
				"digest only. Look the digest up with `oc image info` or `skopeo inspect`.",
				image.Key, image.Reference, reference.Name()+"@sha256:<64 hex digits>"),
		})
	}
	return problems
}

// PinnedImageSet renders the cluster-scoped PinnedImageSet named name for images, with
// labels plus the puller's own labels.
func PinnedImageSet(name string, images []Image, labels map[string]string) *mcfgv1.PinnedImageSet {
	set := &mcfgv1.PinnedImageSet{
		TypeMeta: metav1.TypeMeta{
			APIVersion: "machineconfiguration.openshift.io/v1", Kind: "PinnedImageSet",
		},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}},
	}
	for key, value := range labels {
		set.Labels[key] = value
	}
	set.Labels[LabelName] = nameLabelValue
	set.Labels[LabelInstance] = name
	set.Labels[LabelManagedBy] = managedByLabelValue

	references := make([]string, 0, len(images))
	for _, image := range images {
		references = append(references, image.Reference)
	}
	// The CRD lists pinnedImages as a map keyed by name, so each reference appears once.
	slices.Sort(references)
	for _, reference := range slices.Compact(references) {
		set.Spec.PinnedImages = append(set.Spec.PinnedImages,
			mcfgv1.PinnedImageRef{Name: mcfgv1.ImageDigestFormat(reference)})
	}
	return set
}

// PinnedNodeStatuses judges, for each node in nodes (sorted), whether its machine-config
// daemon has pinned the set named setName at generation, from the nodes' MachineConfigNode
// objects. The daemon reports a set as a whole, so a node has either every image or none.
func PinnedNodeStatuses(images []Image, setName string, generation int64, nodes []string,
	machineConfigNodes []mcfgv1.MachineConfigNode) []NodeStatus {
	byNode := map[string]*mcfgv1.MachineConfigNode{}
	for i := range machineConfigNodes {
		byNode[machineConfigNodes[i].Spec.Node.Name] = &machineConfigNodes[i]
	}
	keys := make([]string, 0, len(images))
	for _, image := range images {
		keys = append(keys, image.Key)
	}
	slices.Sort(keys)

	sorted := slices.Clone(nodes)
	slices.Sort(sorted)
	statuses := make([]NodeStatus, 0, len(sorted))
	for _, node := range slices.Compact(sorted) {
		status := NodeStatus{
			Node: node, Present: []string{}, Missing: slices.Clone(keys),
			Errors: []ImageError{},
		}
		entry := pinnedSetStatus(byNode[node], setName)
		switch {
		case entry == nil:
		case int64(entry.CurrentGeneration) >= generation &&
			int64(entry.DesiredGeneration) >= generation:
			status.Ready = true
			status.Present, status.Missing = status.Missing, []string{}
		case int64(entry.LastFailedGeneration) >= generation &&
			entry.LastFailedGenerationError != "":
			for _, key := range keys {
				status.Errors = append(status.Errors, ImageError{
					Key: key, Reason: ReasonPinningFailed,
					Message: strings.TrimSpace(entry.LastFailedGenerationError),
				})
			}
		}
		statuses = append(statuses, status)
	}
	return statuses
}

func pinnedSetStatus(node *mcfgv1.MachineConfigNode,
	setName string) *mcfgv1.MachineConfigNodeStatusPinnedImageSet {
	if node == nil {
		return nil
	}
	for i := range node.Status.PinnedImageSets {
		if node.Status.PinnedImageSets[i].Name == setName {
			return &node.Status.PinnedImageSets[i]
		}
	}
	return nil
}
