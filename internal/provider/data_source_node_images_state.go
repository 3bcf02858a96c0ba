package provider

import (
	"context"
	"fmt"
	"maps"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/imagedist/terraform-provider-imagedist/internal/nodeimages"
)

// The state of imagedist_node_images is built directly as a tftypes.Value. Going through
// attr.Value objects or a tfsdk-tagged model first would convert every one of up to hundreds
// of thousands of values twice, and the full inventory of a large cluster is that big.

// nodeImagesTypes are the Terraform types of the state, taken from the schema so that the
// two cannot drift apart.
type nodeImagesTypes struct {
	root       tftypes.Object
	nodeList   tftypes.List
	node       tftypes.Object
	imageMap   tftypes.Map
	viewList   tftypes.List
	view       tftypes.Object
	stringList tftypes.List
	// filesystemMap is the type of image_filesystems.
	filesystemMap tftypes.Map
}

func nodeImagesTypesOf(schemaType tftypes.Type) (nodeImagesTypes, error) {
	var types nodeImagesTypes
	var ok bool
	types.root, ok = schemaType.(tftypes.Object)
	if !ok {
		return types, fmt.Errorf("the schema type is %s, not an object", schemaType)
	}
	if types.nodeList, types.node, ok = objectList(types.root, "nodes"); !ok {
		return types, fmt.Errorf("the schema has no list of objects named nodes")
	}
	types.imageMap, ok = types.node.AttributeTypes["images"].(tftypes.Map)
	if !ok || !types.imageMap.ElementType.Equal(tftypes.Number) {
		return types, fmt.Errorf("the schema has no map of numbers named nodes.images")
	}
	if types.viewList, types.view, ok = objectList(types.root, "image_nodes"); !ok {
		return types, fmt.Errorf("the schema has no list of objects named image_nodes")
	}
	types.stringList = tftypes.List{ElementType: tftypes.String}
	types.filesystemMap, ok = types.root.AttributeTypes["image_filesystems"].(tftypes.Map)
	if _, isObject := types.filesystemMap.ElementType.(tftypes.Object); !ok || !isObject {
		return types, fmt.Errorf("the schema has no map of objects named image_filesystems")
	}
	return types, nil
}

// objectList returns the type of a list-of-objects attribute and of its elements.
func objectList(parent tftypes.Object, name string) (tftypes.List, tftypes.Object, bool) {
	list, ok := parent.AttributeTypes[name].(tftypes.List)
	if !ok {
		return tftypes.List{}, tftypes.Object{}, false
	}
	element, ok := list.ElementType.(tftypes.Object)
	return list, element, ok
}

// nodeImagesState returns the state: the configuration as given, page_size and
// node_status_max_images with their defaults, the inventory, and the image filesystems,
// which are nil when the look-up is off.
func nodeImagesState(ctx context.Context, config tftypes.Value, schemaType attr.Type,
	settings nodeImagesSettings, inventory *nodeimages.Inventory,
	filesystems map[string]*nodeFilesystem) (tftypes.Value, diag.Diagnostics) {
	var diags diag.Diagnostics
	types, err := nodeImagesTypesOf(schemaType.TerraformType(ctx))
	if err != nil {
		diags.AddError("Unexpected Schema", "Building the state of imagedist_node_images "+
			"failed. Please report this to the provider's developers.\n\n"+err.Error())
		return tftypes.Value{}, diags
	}

	var configAttributes map[string]tftypes.Value
	if err := config.As(&configAttributes); err != nil {
		diags.AddError("Unexpected Configuration Value", "Reading the configuration of "+
			"imagedist_node_images failed. Please report this to the provider's "+
			"developers.\n\n"+err.Error())
		return tftypes.Value{}, diags
	}
	// As returns the configuration's own map. The framework compares the state with the
	// configuration after Read, so the configuration must stay as it was.
	attributes := maps.Clone(configAttributes)

	nodes := inventory.Nodes()
	attributes["page_size"] = tftypes.NewValue(tftypes.Number, settings.pageSize)
	attributes["node_status_max_images"] = tftypes.NewValue(tftypes.Number,
		int64(settings.options.NodeStatusMaxImages))
	attributes["node_count"] = tftypes.NewValue(tftypes.Number, int64(len(nodes)))
	builder := newNodeImagesBuilder(types)
	attributes["nodes"] = builder.nodesValue(nodes)
	attributes["image_nodes"] = builder.imageNodesValue(inventory.ImageNodes())
	attributes["image_filesystems"] = imageFilesystemsValue(types.filesystemMap, filesystems)
	return tftypes.NewValue(types.root, attributes), diags
}

// nodeImagesBuilder builds the state from the inventory. A full inventory repeats each node
// name in the image_nodes entry of every image on the node, and each image size on every node
// that has the image. New tftypes values for each occurrence would cost one or two
// allocations each, so the builder makes one value per distinct string and number.
type nodeImagesBuilder struct {
	nodeImagesTypes
	strings map[string]tftypes.Value
	numbers map[int64]tftypes.Value
}

func newNodeImagesBuilder(types nodeImagesTypes) *nodeImagesBuilder {
	return &nodeImagesBuilder{
		nodeImagesTypes: types,
		strings:         map[string]tftypes.Value{},
		numbers:         map[int64]tftypes.Value{},
	}
}

func (b *nodeImagesBuilder) nodesValue(nodes []nodeimages.Node) tftypes.Value {
	values := make([]tftypes.Value, len(nodes))
	for i := range nodes {
		node := &nodes[i]
		values[i] = tftypes.NewValue(b.node, map[string]tftypes.Value{
			"name":                      b.stringValue(node.Name),
			"container_runtime":         b.optionalString(node.ContainerRuntime),
			"container_runtime_version": b.optionalString(node.ContainerRuntimeVersion),
			"image_count":               tftypes.NewValue(tftypes.Number, int64(node.ImageCount)),
			"total_size_bytes":          tftypes.NewValue(tftypes.Number, node.TotalSizeBytes),
			"possibly_truncated":        tftypes.NewValue(tftypes.Bool, node.PossiblyTruncated),
			"images":                    b.imagesValue(node.Images),
		})
	}
	return tftypes.NewValue(b.nodeList, values)
}

// imagesValue returns a node's map from image reference to size. nil, as for summary_only,
// gives an empty map rather than null. After Read, the plugin framework looks up the schema
// path of every null value in the state, and for a summary of thousands of nodes that costs
// more than the rest. The inventory lists each reference of a node once.
func (b *nodeImagesBuilder) imagesValue(images []nodeimages.Image) tftypes.Value {
	values := make(map[string]tftypes.Value, len(images))
	for i := range images {
		values[images[i].Reference] = b.numberValue(images[i].SizeBytes)
	}
	return tftypes.NewValue(b.imageMap, values)
}

func (b *nodeImagesBuilder) imageNodesValue(view []nodeimages.ImageNodes) tftypes.Value {
	values := make([]tftypes.Value, len(view))
	for i := range view {
		entry := &view[i]
		values[i] = tftypes.NewValue(b.view, map[string]tftypes.Value{
			"reference":  tftypes.NewValue(tftypes.String, entry.Reference),
			"node_names": b.nullableStringsValue(entry.NodeNames),
			"node_count": tftypes.NewValue(tftypes.Number, int64(entry.NodeCount)),
			"digests":    b.nullableStringsValue(entry.Digests),
			"tags":       b.nullableStringsValue(entry.Tags),
			"missing_on": b.nullableStringsValue(entry.MissingOn),
		})
	}
	return tftypes.NewValue(b.viewList, values)
}

// stringsValue returns a list of strings; nil gives an empty list.
func (b *nodeImagesBuilder) stringsValue(strings []string) tftypes.Value {
	values := make([]tftypes.Value, len(strings))
	for i, text := range strings {
		values[i] = b.stringValue(text)
	}
	return tftypes.NewValue(b.stringList, values)
}

// nullableStringsValue returns a list of strings; nil gives null.
func (b *nodeImagesBuilder) nullableStringsValue(strings []string) tftypes.Value {
	if strings == nil {
		return tftypes.NewValue(b.stringList, nil)
	}
	return b.stringsValue(strings)
}

// optionalString returns a string value, or null for "".
func (b *nodeImagesBuilder) optionalString(text string) tftypes.Value {
	if text == "" {
		return tftypes.NewValue(tftypes.String, nil)
	}
	return b.stringValue(text)
}

// stringValue returns the value of text, made once per distinct text.
func (b *nodeImagesBuilder) stringValue(text string) tftypes.Value {
	value, ok := b.strings[text]
	if !ok {
		value = tftypes.NewValue(tftypes.String, text)
		b.strings[text] = value
	}
	return value
}

// numberValue returns the value of number, made once per distinct number. The values share
// one *big.Float, as the copies that tftypes.Value.Copy makes do (terraform-plugin-go
// v0.31.0), so nothing may change it.
func (b *nodeImagesBuilder) numberValue(number int64) tftypes.Value {
	value, ok := b.numbers[number]
	if !ok {
		value = tftypes.NewValue(tftypes.Number, number)
		b.numbers[number] = value
	}
	return value
}
