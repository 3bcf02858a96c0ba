// Package nodeimages builds an inventory of the container images that nodes report in
// Node.status.images: per node, and per image the nodes that have it.
//
// Node objects are added one at a time, so a caller can read a large cluster page by page and
// drop each page once it is added. Only the compact inventory stays in memory.
package nodeimages

import (
	"maps"
	"math"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/imagedist/terraform-provider-imagedist/internal/imageref"
)

// DefaultNodeStatusMaxImages is the kubelet's default nodeStatusMaxImages: the number of
// images, largest first, that a node reports in its status.
const DefaultNodeStatusMaxImages = 50

// Options select what an Inventory keeps.
type Options struct {
	// Images are the image references of interest, as the user wrote them ("nginx",
	// "quay.io/org/app@sha256:..."). When set, each node keeps only the images that match one
	// of them, and ImageNodes returns one entry per reference.
	Images []string
	// Filter makes Images a filter even when it is empty: nodes then keep no images and
	// ImageNodes is empty, as for a list of images of interest that came out empty.
	Filter bool
	// SummaryOnly drops each node's image list, and the node names of each ImageNodes entry,
	// which then keeps its count and, with Images, the nodes that lack the image.
	SummaryOnly bool
	// NodeStatusMaxImages is the kubelet cap to judge truncation by. A node that reports
	// exactly this many images is flagged PossiblyTruncated. -1 disables the flag.
	NodeStatusMaxImages int
	// KeepLabels keeps each node's labels in Node.Labels, to match machine config pools.
	KeepLabels bool
}

// Node is one node's entry in the inventory.
type Node struct {
	Name string
	// ContainerRuntime is the scheme of status.nodeInfo.containerRuntimeVersion, such as
	// "cri-o" or "containerd", or empty when the node reports none.
	ContainerRuntime string
	// ContainerRuntimeVersion is status.nodeInfo.containerRuntimeVersion as reported, such as
	// "cri-o://1.33.4".
	ContainerRuntimeVersion string
	// ImageCount and TotalSizeBytes cover every image the node reports, even when Images holds
	// only the images of interest. TotalSizeBytes ignores negative sizes and saturates at
	// math.MaxInt64.
	ImageCount     int
	TotalSizeBytes int64
	// PossiblyTruncated is set when the node reports exactly NodeStatusMaxImages images, so
	// the kubelet may have left smaller images out.
	PossiblyTruncated bool
	// Labels are the node's labels with Options.KeepLabels, else nil.
	Labels map[string]string
	// Images are the node's images in the order it reports them, largest first, and with
	// Options.Images only those that match one of them. An image without a usable name (only
	// the kubelet's placeholders, or names that do not parse) is left out. Each Reference
	// occurs once: of two images with one reference, the first is kept. Images is nil when
	// Options.SummaryOnly is set.
	Images []Image
}

// Image is one image of a node.
type Image struct {
	// Reference is the image's first digest name, else its first tag name, normalized, as
	// ImageNodes names images without Options.Images. Nodes that report the same name share
	// one copy of the string.
	Reference string
	// SizeBytes is status.images[].sizeBytes: uncompressed bytes on CRI-O, compressed bytes
	// on containerd.
	SizeBytes int64
}

// ImageNodes lists the nodes that have one image.
type ImageNodes struct {
	// Reference is the normalized reference: the requested reference, or for an inventory
	// without Options.Images the image's first digest name, else its first tag name.
	Reference string
	// NodeNames is sorted. It is set only for an inventory with Options.Images and without
	// Options.SummaryOnly: for every image of a fleet the lists would repeat the nodes' own
	// image lists, and a quarter of a million names make state slow in Terraform.
	NodeNames []string
	NodeCount int
	// Digests and Tags are every digest name and tag name, normalized, that any added node
	// reports for the image, sorted and without duplicates. Nodes may report different tags
	// for one digest. With Options.Images, they are the names of the images that match the
	// reference, so they lead from it to the keys of the nodes' image lists.
	Digests []string
	Tags    []string
	// MissingOn lists, sorted, the added nodes that lack a requested image. It is nil for an
	// inventory without Options.Images.
	MissingOn []string
}

// nameInfo is the parse and match result for one distinct image name.
type nameInfo struct {
	// name is the shared copy of the raw name, so a name that many nodes report is stored once.
	name string
	kind imageref.NodeImageNameKind
	// identity is the normalized name, shared by every name that normalizes to it. It is
	// empty for a placeholder or a name that does not parse.
	identity string
	// matches are the indexes of the requested images that this name matches.
	matches []int
}

// imageEntry accumulates the nodes that have one image.
type imageEntry struct {
	nodeNames []string
	nodeCount int
	// lastNode prevents counting a node twice when it reports the same image twice.
	lastNode string
	// digests and tags collect the image's normalized names over all nodes, without
	// duplicates, for an inventory without requested images.
	digests []string
	tags    []string
}

// Inventory accumulates nodes. It is not safe for concurrent use.
type Inventory struct {
	options   Options
	requested []*imageref.Matcher
	// names caches the parse and match results per distinct name. Nodes of a fleet share
	// most images, so the map has far fewer entries than the names read.
	names map[string]*nameInfo
	// identities interns the normalized names, so that "nginx:1.27" and
	// "docker.io/library/nginx:1.27" share one string.
	identities map[string]string

	nodes []Node
	// byIdentity is the inverse view without requested images, keyed by image identity.
	byIdentity map[string]*imageEntry
	// byRequest is the inverse view with requested images, one entry per reference.
	byRequest []imageEntry

	// scratch holds the resolved names of the image being added.
	scratch []*nameInfo
}

// New returns an empty Inventory. It fails with the error of imageref.Parse when one of
// options.Images is not a valid image reference.
func New(options Options) (*Inventory, error) {
	inventory := &Inventory{
		options:    options,
		names:      map[string]*nameInfo{},
		identities: map[string]string{},
	}
	for _, reference := range options.Images {
		matcher, err := imageref.NewMatcher(reference)
		if err != nil {
			return nil, err
		}
		inventory.requested = append(inventory.requested, matcher)
	}
	inventory.Reset()
	return inventory, nil
}

// Reset removes every added node, as when a list restarts from the beginning. The cache of
// parsed names stays, because it does not depend on the nodes.
func (inv *Inventory) Reset() {
	inv.nodes = nil
	inv.byIdentity = map[string]*imageEntry{}
	inv.byRequest = make([]imageEntry, len(inv.requested))
}

// Add records one node. The inventory keeps no reference to node, only to strings in it.
func (inv *Inventory) Add(node *corev1.Node) {
	images := node.Status.Images
	entry := Node{
		Name:                    node.Name,
		ContainerRuntime:        ContainerRuntime(node.Status.NodeInfo.ContainerRuntimeVersion),
		ContainerRuntimeVersion: node.Status.NodeInfo.ContainerRuntimeVersion,
		ImageCount:              len(images),
		PossiblyTruncated: inv.options.NodeStatusMaxImages >= 0 &&
			len(images) == inv.options.NodeStatusMaxImages,
	}
	// Without requested images a node keeps nearly all of its images. With them most nodes
	// keep few, so the list grows on demand instead.
	if !inv.options.SummaryOnly && !inv.filtered() {
		entry.Images = make([]Image, 0, len(images))
	}
	if inv.options.KeepLabels {
		entry.Labels = maps.Clone(node.Labels)
	}

	for i := range images {
		entry.TotalSizeBytes = addImageSize(entry.TotalSizeBytes, images[i].SizeBytes)
		inv.addImage(&entry, &images[i])
	}
	inv.nodes = append(inv.nodes, entry)
}

// addImage records one image of node in the inverse view and in the node's image list.
func (inv *Inventory) addImage(node *Node, image *corev1.ContainerImage) {
	infos := inv.resolve(image.Names)
	if !inv.keep(infos) {
		return
	}

	identity := imageIdentity(infos)
	var firstOnNode bool
	if inv.filtered() {
		inv.recordRequested(node.Name, infos)
		firstOnNode = !slices.ContainsFunc(node.Images, func(kept Image) bool {
			return kept.Reference == identity
		})
	} else {
		firstOnNode = inv.recordIdentity(node.Name, identity, infos)
	}

	if identity != "" && firstOnNode && !inv.options.SummaryOnly {
		node.Images = append(node.Images, Image{Reference: identity, SizeBytes: image.SizeBytes})
	}
}

// addImageSize adds one image's size to a node's total. A negative size, which no kubelet
// reports but the API server accepts, counts as 0, and the total stops at math.MaxInt64
// instead of wrapping around to a negative number.
func addImageSize(total, size int64) int64 {
	if size <= 0 {
		return total
	}
	if total > math.MaxInt64-size {
		return math.MaxInt64
	}
	return total + size
}

// resolve looks up or parses each name. The result is valid until the next call.
func (inv *Inventory) resolve(names []string) []*nameInfo {
	inv.scratch = inv.scratch[:0]
	for _, name := range names {
		info, ok := inv.names[name]
		if !ok {
			info = inv.parseName(name)
			inv.names[info.name] = info
		}
		inv.scratch = append(inv.scratch, info)
	}
	return inv.scratch
}

func (inv *Inventory) parseName(name string) *nameInfo {
	info := &nameInfo{name: name}
	reference, kind, err := imageref.ParseNodeImageName(info.name)
	if err != nil {
		// A name the runtime reported but that does not parse names no image and matches
		// nothing.
		return info
	}
	info.kind = kind
	if kind == imageref.NodeImagePlaceholder {
		return info
	}
	info.identity = inv.intern(reference.Identity())
	for index, matcher := range inv.requested {
		if matcher.MatchesName(info.name) {
			info.matches = append(info.matches, index)
		}
	}
	return info
}

// intern returns the inventory's copy of identity, adding it on first use.
func (inv *Inventory) intern(identity string) string {
	if shared, ok := inv.identities[identity]; ok {
		return shared
	}
	inv.identities[identity] = identity
	return identity
}

// keep reports whether a node's image list keeps the image: always without requested images,
// otherwise only when one of its names matches one of them.
func (inv *Inventory) keep(infos []*nameInfo) bool {
	if !inv.filtered() {
		return true
	}
	for _, info := range infos {
		if len(info.matches) > 0 {
			return true
		}
	}
	return false
}

// recordRequested adds the node and the image's names to the entry of each requested image
// that the image matches.
func (inv *Inventory) recordRequested(nodeName string, infos []*nameInfo) {
	for _, info := range infos {
		for _, index := range info.matches {
			entry := &inv.byRequest[index]
			entry.add(nodeName, true)
			entry.addNames(infos)
		}
	}
}

// recordIdentity adds the node and the image's names to the entry of identity. It reports
// whether the node had no image with this identity before. An image without identity has
// no entry, and recordIdentity reports true for it.
func (inv *Inventory) recordIdentity(nodeName, identity string, infos []*nameInfo) bool {
	if identity == "" {
		// Only placeholders or unparsable names: the image has no name to list it under.
		return true
	}
	entry, ok := inv.byIdentity[identity]
	if !ok {
		entry = &imageEntry{}
		inv.byIdentity[identity] = entry
	}
	entry.addNames(infos)
	return entry.add(nodeName, false)
}

// add counts the node once and reports whether it was not counted before.
func (e *imageEntry) add(nodeName string, keepName bool) bool {
	// Nodes are added one at a time, so a node seen before is the last one.
	if e.nodeCount > 0 && e.lastNode == nodeName {
		return false
	}
	e.lastNode = nodeName
	e.nodeCount++
	if keepName {
		e.nodeNames = append(e.nodeNames, nodeName)
	}
	return true
}

// addNames adds the image's digest and tag names that the entry lacks. The kubelet reports
// at most 5 names per image and nodes seldom differ, so the lists stay short and a linear
// search is cheaper than a set.
func (e *imageEntry) addNames(infos []*nameInfo) {
	for _, info := range infos {
		switch info.kind {
		case imageref.NodeImageDigest:
			if !slices.Contains(e.digests, info.identity) {
				e.digests = append(e.digests, info.identity)
			}
		case imageref.NodeImageTag:
			if !slices.Contains(e.tags, info.identity) {
				e.tags = append(e.tags, info.identity)
			}
		}
	}
}

// imageIdentity returns the image's first digest name, else its first tag name, normalized.
func imageIdentity(infos []*nameInfo) string {
	for _, info := range infos {
		if info.kind == imageref.NodeImageDigest {
			return info.identity
		}
	}
	for _, info := range infos {
		if info.kind == imageref.NodeImageTag {
			return info.identity
		}
	}
	return ""
}

// NodeCount returns the number of nodes added since the last Reset.
func (inv *Inventory) NodeCount() int {
	return len(inv.nodes)
}

// Nodes returns the added nodes sorted by name. The slice is the inventory's own.
func (inv *Inventory) Nodes() []Node {
	slices.SortFunc(inv.nodes, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	return inv.nodes
}

// filtered reports whether Options.Images is a filter: set, or empty with Options.Filter.
func (inv *Inventory) filtered() bool {
	return inv.options.Filter || len(inv.requested) > 0
}

// ImageNodes returns the inverse view. With requested images, it has one entry per reference
// in the order of Options.Images, including references on no node. Otherwise it has one
// entry per distinct image, sorted by reference.
func (inv *Inventory) ImageNodes() []ImageNodes {
	if inv.filtered() {
		return inv.requestedImageNodes()
	}

	identities := make([]string, 0, len(inv.byIdentity))
	for identity := range inv.byIdentity {
		identities = append(identities, identity)
	}
	slices.Sort(identities)

	result := make([]ImageNodes, 0, len(identities))
	for _, identity := range identities {
		entry := inv.byIdentity[identity]
		slices.Sort(entry.nodeNames)
		slices.Sort(entry.digests)
		slices.Sort(entry.tags)
		result = append(result, ImageNodes{
			Reference: identity,
			NodeNames: entry.nodeNames,
			NodeCount: entry.nodeCount,
			Digests:   nonNil(entry.digests),
			Tags:      nonNil(entry.tags),
		})
	}
	return result
}

// nonNil returns list, or an empty list for nil.
func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

func (inv *Inventory) requestedImageNodes() []ImageNodes {
	allNames := make([]string, len(inv.nodes))
	for i := range inv.nodes {
		allNames[i] = inv.nodes[i].Name
	}
	slices.Sort(allNames)

	result := make([]ImageNodes, len(inv.requested))
	for index, matcher := range inv.requested {
		entry := &inv.byRequest[index]
		present := entry.nodeNames
		if present == nil {
			present = []string{}
		}
		slices.Sort(present)
		slices.Sort(entry.digests)
		slices.Sort(entry.tags)
		result[index] = ImageNodes{
			Reference: matcher.Reference().String(),
			NodeCount: entry.nodeCount,
			MissingOn: sortedDifference(allNames, present),
			Digests:   nonNil(entry.digests),
			Tags:      nonNil(entry.tags),
		}
		if !inv.options.SummaryOnly {
			result[index].NodeNames = present
		}
	}
	return result
}

// sortedDifference returns the elements of all that are not in subset. Both must be sorted,
// and subset must be a subset of all.
func sortedDifference(all, subset []string) []string {
	difference := make([]string, 0, len(all)-len(subset))
	j := 0
	for _, name := range all {
		if j < len(subset) && subset[j] == name {
			j++
			continue
		}
		difference = append(difference, name)
	}
	return difference
}

// ContainerRuntime returns the runtime name from a containerRuntimeVersion such as
// "cri-o://1.33.4" or "containerd://2.1.4", or "" when the value has no "<name>://" prefix.
func ContainerRuntime(version string) string {
	name, _, found := strings.Cut(version, "://")
	if !found {
		return ""
	}
	return name
}
