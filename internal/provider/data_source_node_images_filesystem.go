package provider

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/imagedist/terraform-provider-imagedist/internal/kubeletgc"
	"github.com/imagedist/terraform-provider-imagedist/internal/nodeimages"
)

// maxWarningNodes is the number of node names that the image filesystem warning lists per
// reason; the rest are counted.
const maxWarningNodes = 10

// maxWarningErrorBytes bounds the error text that the image filesystem warning quotes. The
// node proxy passes a kubelet's error response through, so its message can be any size.
const maxWarningErrorBytes = 1024

func imageFilesystemAttribute() schema.BoolAttribute {
	return schema.BoolAttribute{
		Optional: true,
		MarkdownDescription: fmt.Sprintf("When true, reads each selected node's image "+
			"filesystem from the kubelet's summary API into `image_filesystems`. Defaults "+
			"to false, because it sends one request per node through the API server's node "+
			"proxy, %d nodes at a time with a timeout of %s per node, and on a cluster of "+
			"thousands of nodes that costs more than the rest of the read. Needs `get` on "+
			"`nodes/proxy`. A node that does not respond in time, or a caller without that "+
			"permission, gives null figures and one warning that names the nodes, never a "+
			"failed read. Reading the GC thresholds and failures can add a warning each "+
			"when the caller may not list them.", nodeimages.DefaultFilesystemConcurrency,
			nodeimages.DefaultFilesystemTimeout),
	}
}

func imageFilesystemsAttribute() schema.MapNestedAttribute {
	figure := func(description string) schema.Int64Attribute {
		return schema.Int64Attribute{Computed: true, MarkdownDescription: description}
	}
	return schema.MapNestedAttribute{
		Computed: true,
		MarkdownDescription: "The image filesystem of each selected node and its image " +
			"garbage collection, by node name. The figures come from " +
			"`node.runtime.imageFs` of the kubelet's summary API " +
			"(`/api/v1/nodes/NAME/proxy/stats/summary`), the threshold from the " +
			"KubeletConfigs of the node's machine config pool, and the failures from one " +
			"list of the Warning events about nodes. Null unless `image_filesystem` is " +
			"true. Every selected node has an entry, and the figures of a node that could " +
			"not be read are null.",
		NestedObject: schema.NestedAttributeObject{
			Attributes: map[string]schema.Attribute{
				"capacity_bytes": figure("The size of the filesystem that holds the " +
					"container images, in bytes."),
				"available_bytes": figure("The bytes available on that filesystem."),
				"used_bytes": figure("The bytes that images take on that filesystem. Other " +
					"files may share it, so capacity minus available can be more."),
				"inodes":      figure("The filesystem's inodes."),
				"inodes_free": figure("The free inodes."),
				"inodes_used": figure("The inodes that images use."),
				"used_percent": figure("The usage that the kubelet's image garbage " +
					"collector compares with its thresholds: the available share of the " +
					"capacity as a whole percentage, rounded down, subtracted from 100. When it reaches " +
					"`imageGCHighThresholdPercent`, the kubelet deletes unused images."),
				"gc_pool": schema.StringAttribute{
					Computed: true,
					MarkdownDescription: "The node's machine config pool when at least one " +
						"KubeletConfig (`machineconfiguration.openshift.io/v1`), such as " +
						"one that `imagedist_kubelet_image_gc` manages, selects it. Null " +
						"otherwise, and on clusters without machine config pools.",
				},
				"gc_high_threshold_percent": figure("`imageGCHighThresholdPercent` of the " +
					"KubeletConfig whose generated MachineConfig sorts last among those that " +
					"reach the pool (its own, and those of the roles that its " +
					"`machineConfigSelector` takes, such as worker for a custom pool), or the " +
					"kubelet default of " + fmt.Sprint(kubeletgc.DefaultHighThresholdPercent) +
					" when that one does not set it: the machine-config operator renders " +
					"each KubeletConfig into a whole kubelet.conf, and the last replaces the " +
					"others. Null when `gc_pool` is null, or when a KubeletConfig of the " +
					"pool does not parse."),
				"gc_headroom_percent": figure("`gc_high_threshold_percent` minus " +
					"`used_percent`: how many percent of the capacity images can still " +
					"take before the kubelet starts deleting them. Negative when usage is " +
					"above the threshold. Null when either is null."),
				"gc_failure_count": figure("The number of the kubelet's `ImageGCFailed` " +
					"and `FreeDiskSpaceFailed` events about the node in the namespace " +
					"`default`, where the kubelet records them, with their repeat counts, " +
					"among the events that the API server still keeps (one hour by " +
					"default). Events in other namespaces are not counted, because anyone " +
					"who may create events there could forge them. Null when the events " +
					"could not be listed."),
				"gc_last_failure_message": schema.StringAttribute{
					Computed: true,
					MarkdownDescription: "The message of the latest of those events. " +
						"Null when there is none.",
				},
				"gc_last_failure_time": schema.StringAttribute{
					Computed: true,
					MarkdownDescription: "When the latest of those events occurred, in " +
						"RFC 3339. Null when there is none.",
				},
			},
		},
	}
}

// nodeFilesystem is one node's entry of image_filesystems. A nil pointer is a null value.
type nodeFilesystem struct {
	filesystem *nodeimages.ImageFilesystem
	threshold  *nodeimages.GCThreshold
	failures   *nodeimages.GCFailures
}

// readImageFilesystems reads the image filesystem, the garbage collection threshold and the
// garbage collection failures of the nodes. Each part that fails adds one warning and leaves
// its values null.
func (d *nodeImagesDataSource) readImageFilesystems(ctx context.Context,
	nodes []nodeimages.Node, diags *diag.Diagnostics) map[string]*nodeFilesystem {
	result := make(map[string]*nodeFilesystem, len(nodes))
	for i := range nodes {
		result[nodes[i].Name] = &nodeFilesystem{}
	}
	client, err := d.clients.Kubernetes()
	if err != nil {
		addClientError(diags, err)
		return result
	}

	names := slices.Sorted(maps.Keys(result))
	reader := nodeimages.FilesystemReader{Client: client.CoreV1().RESTClient(),
		Timeout: d.filesystemTimeout}
	tflog.Debug(ctx, "Reading image filesystems through the node proxy",
		map[string]any{"node_count": len(names)})
	filesystems, failures := reader.Read(ctx, names)
	for name, filesystem := range filesystems {
		result[name].filesystem = &filesystem
	}
	if len(failures) > 0 {
		tflog.Warn(ctx, "Image filesystems not read", map[string]any{
			"failed_node_count": len(failures), "first_error": errorText(failures[0].Err),
		})
		timeout := cmp.Or(d.filesystemTimeout, nodeimages.DefaultFilesystemTimeout)
		summary, detail := imageFilesystemWarning(failures, len(names), timeout)
		diags.AddWarning(summary, detail)
	}

	d.readGCThresholds(ctx, nodes, result, diags)
	readGCFailures(ctx, client, result, diags)
	return result
}

// readGCThresholds sets the threshold of each node whose pool has a KubeletConfig. A
// cluster without the machine config kinds has none, and any other failure adds a warning.
func (d *nodeImagesDataSource) readGCThresholds(ctx context.Context, nodes []nodeimages.Node,
	result map[string]*nodeFilesystem, diags *diag.Diagnostics) {
	client, err := d.clients.Dynamic()
	if err != nil {
		addClientError(diags, err)
		return
	}
	tflog.Debug(ctx, "Listing machine config pools and KubeletConfigs")
	pools, err := listPools(ctx, client)
	var configs []mcfgv1.KubeletConfig
	if err == nil {
		configs, err = listKubeletConfigs(ctx, client)
	}
	if apierrors.IsNotFound(err) {
		tflog.Debug(ctx, "The cluster serves no machine config pools or KubeletConfigs",
			map[string]any{"error": err.Error()})
		return
	}
	if err != nil {
		tflog.Warn(ctx, "Image GC thresholds not read", map[string]any{"error": err.Error()})
		diags.AddWarning("Image GC Threshold Not Read", "Reading the machine config pools "+
			"and KubeletConfigs failed, so gc_high_threshold_percent and "+
			"gc_headroom_percent are null. Check that the provider's credentials may "+
			"list machineconfigpools and kubeletconfigs in the API group "+
			"machineconfiguration.openshift.io.\n\n"+err.Error())
		return
	}

	thresholds, invalid := nodeimages.GCThresholds(nodes, pools, configs)
	if invalid != nil {
		tflog.Warn(ctx, "Invalid KubeletConfigs", map[string]any{"error": invalid.Error()})
		diags.AddWarning("Invalid KubeletConfig", "The nodes of the pools that these "+
			"KubeletConfigs select have null gc_high_threshold_percent and "+
			"gc_headroom_percent, because their spec.kubeletConfig does not parse. Fix or "+
			"delete them.\n\n"+invalid.Error())
	}
	for name, threshold := range thresholds {
		result[name].threshold = &threshold
	}
}

func listKubeletConfigs(ctx context.Context, client dynamic.Interface,
) ([]mcfgv1.KubeletConfig, error) {
	list, err := client.Resource(kubeletConfigGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	configs := make([]mcfgv1.KubeletConfig, 0, len(list.Items))
	for i := range list.Items {
		config, err := typedKubeletConfig(&list.Items[i])
		if err != nil {
			return nil, err
		}
		configs = append(configs, *config)
	}
	return configs, nil
}

// readGCFailures sets the garbage collection failures of every node from one list of the
// Warning events about nodes. A failed list adds a warning.
func readGCFailures(ctx context.Context, client kubernetes.Interface,
	result map[string]*nodeFilesystem, diags *diag.Diagnostics) {
	tflog.Debug(ctx, "Listing the Warning events about nodes")
	failures, err := nodeimages.ReadGCFailures(ctx, client.CoreV1())
	if err != nil {
		tflog.Warn(ctx, "Image GC failures not read", map[string]any{"error": err.Error()})
		diags.AddWarning("Image GC Failures Not Read", "Listing the events about nodes "+
			"failed, so gc_failure_count is null. Check that the provider's credentials "+
			"may list events in the namespace default.\n\n"+err.Error())
		return
	}
	for name, entry := range result {
		failure := failures[name]
		entry.failures = &failure
	}
}

// imageFilesystemWarning returns one warning for every node whose image filesystem could
// not be read: per reason, the first maxWarningNodes node names and what to do.
func imageFilesystemWarning(failures []nodeimages.FilesystemFailure, total int,
	timeout time.Duration) (string, string) {
	byReason := map[nodeimages.FailureReason][]nodeimages.FilesystemFailure{}
	for _, failure := range failures {
		byReason[failure.Reason] = append(byReason[failure.Reason], failure)
	}

	var detail strings.Builder
	fmt.Fprintf(&detail, "The image filesystem of %d of %d nodes could not be read, so "+
		"their image_filesystems figures are null.\n", len(failures), total)
	reasons := []nodeimages.FailureReason{nodeimages.ReasonForbidden, nodeimages.ReasonTimeout,
		nodeimages.ReasonUnreachable, nodeimages.ReasonInvalid}
	for _, reason := range reasons {
		group := byReason[reason]
		if len(group) == 0 {
			continue
		}
		fmt.Fprintf(&detail, "\n%s: %s. %s\nFirst error: %s\n", reason,
			failureNodeList(group), failureAdvice(reason, timeout), errorText(group[0].Err))
	}
	return "Image Filesystem Not Read", strings.TrimSuffix(detail.String(), "\n")
}

// errorText returns the message of err, cut to maxWarningErrorBytes at a UTF-8 boundary.
func errorText(err error) string {
	text := err.Error()
	// client-go keeps a response body that is not a Status object, such as the API server's
	// "address not allowed" for a node proxy request, only in the details.
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Details != nil {
		for _, cause := range status.Status().Details.Causes {
			message := strings.TrimSpace(cause.Message)
			if cause.Type == metav1.CauseTypeUnexpectedServerResponse && message != "" {
				text += ": " + message
			}
		}
	}
	if len(text) <= maxWarningErrorBytes {
		return text
	}
	cut := maxWarningErrorBytes
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d more bytes)", text[:cut], len(text)-cut)
}

func failureNodeList(failures []nodeimages.FilesystemFailure) string {
	names := make([]string, 0, min(len(failures), maxWarningNodes))
	for _, failure := range failures[:min(len(failures), maxWarningNodes)] {
		names = append(names, failure.Node)
	}
	slices.Sort(names)
	list := strings.Join(names, ", ")
	if more := len(failures) - len(names); more > 0 {
		list += fmt.Sprintf(" and %d more", more)
	}
	return list
}

func failureAdvice(reason nodeimages.FailureReason, timeout time.Duration) string {
	switch reason {
	case nodeimages.ReasonForbidden:
		return "The provider's credentials may not get nodes/proxy. Grant the rule " +
			"apiGroups [\"\"], resources [\"nodes/proxy\"], verbs [\"get\"] through a " +
			"ClusterRoleBinding, as examples/rbac/clusterrole.yaml does, or set " +
			"image_filesystem = false."
	case nodeimages.ReasonTimeout:
		return fmt.Sprintf("The kubelets did not respond within %s. Check that the nodes "+
			"are Ready and that the API server can reach their kubelet port.", timeout)
	case nodeimages.ReasonInvalid:
		return "The kubelets returned a summary that does not parse, is too large, or " +
			"lacks node.runtime.imageFs, which some container runtimes leave out."
	default:
		return "The API server could not reach the kubelets. Check that the nodes are " +
			"Ready and that the API server can reach their kubelet port."
	}
}

// imageFilesystemsValue returns the image_filesystems map, or null when filesystems is nil
// because the look-up is off.
func imageFilesystemsValue(mapType tftypes.Map,
	filesystems map[string]*nodeFilesystem) tftypes.Value {
	if filesystems == nil {
		return tftypes.NewValue(mapType, nil)
	}
	objectType := mapType.ElementType.(tftypes.Object)
	values := make(map[string]tftypes.Value, len(filesystems))
	for name, entry := range filesystems {
		values[name] = tftypes.NewValue(objectType, entry.attributes())
	}
	return tftypes.NewValue(mapType, values)
}

func (n *nodeFilesystem) attributes() map[string]tftypes.Value {
	filesystem := n.filesystem
	if filesystem == nil {
		filesystem = &nodeimages.ImageFilesystem{}
	}
	attributes := map[string]tftypes.Value{
		"capacity_bytes":            uint64Value(filesystem.CapacityBytes),
		"available_bytes":           uint64Value(filesystem.AvailableBytes),
		"used_bytes":                uint64Value(filesystem.UsedBytes),
		"inodes":                    uint64Value(filesystem.Inodes),
		"inodes_free":               uint64Value(filesystem.InodesFree),
		"inodes_used":               uint64Value(filesystem.InodesUsed),
		"used_percent":              nullNumber(),
		"gc_pool":                   tftypes.NewValue(tftypes.String, nil),
		"gc_high_threshold_percent": nullNumber(),
		"gc_headroom_percent":       nullNumber(),
		"gc_failure_count":          nullNumber(),
		"gc_last_failure_message":   tftypes.NewValue(tftypes.String, nil),
		"gc_last_failure_time":      tftypes.NewValue(tftypes.String, nil),
	}

	usedPercent, used := filesystem.UsedPercent()
	if used {
		attributes["used_percent"] = tftypes.NewValue(tftypes.Number, usedPercent)
	}
	if n.threshold != nil {
		high := int64(n.threshold.HighThresholdPercent)
		attributes["gc_pool"] = tftypes.NewValue(tftypes.String, n.threshold.Pool)
		attributes["gc_high_threshold_percent"] = tftypes.NewValue(tftypes.Number, high)
		if used {
			attributes["gc_headroom_percent"] = tftypes.NewValue(tftypes.Number,
				high-usedPercent)
		}
	}
	if n.failures != nil {
		attributes["gc_failure_count"] = tftypes.NewValue(tftypes.Number, n.failures.Count)
		if n.failures.Count > 0 {
			attributes["gc_last_failure_message"] = tftypes.NewValue(tftypes.String,
				n.failures.LastMessage)
			attributes["gc_last_failure_time"] = tftypes.NewValue(tftypes.String,
				n.failures.LastTime.UTC().Format(time.RFC3339))
		}
	}
	return attributes
}

func nullNumber() tftypes.Value {
	return tftypes.NewValue(tftypes.Number, nil)
}

func uint64Value(value *uint64) tftypes.Value {
	if value == nil {
		return nullNumber()
	}
	// Int64 attributes hold at most math.MaxInt64, 8 EiB, far above any filesystem.
	return tftypes.NewValue(tftypes.Number, int64(min(*value, math.MaxInt64)))
}
