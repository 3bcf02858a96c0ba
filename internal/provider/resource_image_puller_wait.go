package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/imagedist/terraform-provider-imagedist/internal/puller"
)

// errPodsRejected is the cause of a wait that ended because the API server rejected the
// puller's pods, such as by a ResourceQuota or Pod Security admission.
var errPodsRejected = errors.New("the puller's pods were rejected")

// errNoOperator is the cause of a wait that ended because no operator made a DaemonSet from
// a KubernetesImagePuller.
var errNoOperator = errors.New("no kubernetes-image-puller operator acts on the resource")

// pullerJudgement is the result of one look at the cluster: each selected node with its
// images, the nodes left out with the reason, and whether every selected node has every
// image.
type pullerJudgement struct {
	statuses []puller.NodeStatus
	excluded []puller.Exclusion
	done     bool
	// rejection is the API server's message when it rejected the pods, or "".
	rejection string
	// need describes the resources that the pods request, for a rejection.
	need string
	// pending is the reason why no node is judged yet, such as a DaemonSet that its
	// operator has not made yet, or "".
	pending string
}

// pullerTarget describes what a backend wrote and how to judge it, for waitAndSetStatus.
type pullerTarget struct {
	// object names what was written, such as `DaemonSet "a" in namespace "b"`.
	object string
	// selection names the settings that decide the selected nodes, for a warning when there
	// are none.
	selection string
	// judge looks at the cluster once.
	judge func() (pullerJudgement, error)
}

// waitAndSetStatus waits, with wait_for_cached, until every selected node has every image,
// and sets the computed status in plan from the last judgement.
func waitAndSetStatus(ctx context.Context, plan *imagePullerModel, target pullerTarget,
	timeout time.Duration, diags *diag.Diagnostics) {
	var judgement pullerJudgement
	var err error
	if plan.WaitForCached.ValueBool() {
		judgement, err = pollJudgements(ctx, time.Now().Add(timeout), target.judge)
	} else {
		judgement, err = target.judge()
	}
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}

	switch {
	case err == nil:
	case errors.Is(err, errPodsRejected):
		diags.AddError("Image Puller Pods Rejected",
			fmt.Sprintf("%s was written, but the API server rejects its pods:\n\n%s\n\n%s "+
				"Raise the namespace's ResourceQuota or lower the requests and limits, or "+
				"let the namespace's Pod Security level or the cluster's security context "+
				"constraints admit the pods, then apply again.", target.object,
				judgement.rejection, judgement.need))
	case errors.Is(err, errNoOperator):
		diags.AddError("No Operator for Image Puller",
			fmt.Sprintf("%s was written, but %v. Install the kubernetes-image-puller "+
				"operator for all namespaces (the only install mode its OLM bundle offers), "+
				"or use backend = \"daemonset\", which needs no operator.",
				target.object, strings.TrimPrefix(err.Error(), errNoOperator.Error()+": ")))
	case errors.Is(err, errNotCached) && judgement.pending != "":
		diags.AddError("Timed Out Waiting for Images",
			fmt.Sprintf("%s was written, but after %s %s Raise the timeouts if it needs "+
				"longer, and apply again.", target.object, timeout, judgement.pending))
	case errors.Is(err, errNotCached):
		diags.AddError("Timed Out Waiting for Images",
			fmt.Sprintf("%s was written, but after %s not every selected node has every "+
				"image:\n\n%s\n\nFix the cause, such as a wrong reference or a missing "+
				"pull secret, or raise the timeouts, and apply again. Until every selected "+
				"node has every image, every plan proposes to wait again.", target.object,
				timeout, describeMissing(judgement.statuses)))
	case errors.Is(err, context.Canceled):
		diags.AddError("Wait for Images Interrupted",
			fmt.Sprintf("%s was written, but the wait for the images was interrupted. The "+
				"nodes go on pulling: the next plan reads their state.", target.object))
	default:
		addAPIError(diags, "Unable to Read Image Puller Status",
			fmt.Sprintf("%s was written, but reading the nodes' state failed. Check the "+
				"provider's permissions in the message below.", target.object), err)
	}

	if judgement.statuses == nil && err != nil {
		flattenUnknownNodeStatuses(plan)
		return
	}
	diags.Append(flattenNodeStatuses(ctx, plan, judgement)...)
	if judgement.pending != "" && err == nil {
		diags.AddWarning("Image Puller Not Started",
			fmt.Sprintf("%s was written, but %s", target.object, judgement.pending))
		return
	}
	if len(judgement.statuses) == 0 && err == nil {
		diags.AddWarning("Image Puller Selects No Node",
			fmt.Sprintf("%s matches no node, so no image is cached anywhere. Check %s; "+
				"excluded_nodes says why each node is left out.", target.object,
				target.selection))
	}
}

// daemonSetTarget judges a puller DaemonSet from its pods. FailedCreate events newer than
// since end the wait at once, because a rejected pod is not retried into success.
func daemonSetTarget(ctx context.Context, client kubernetes.Interface,
	daemonSet *appsv1.DaemonSet, images []puller.Image, since time.Time) pullerTarget {
	daemonSets := client.AppsV1().DaemonSets(daemonSet.Namespace)
	return pullerTarget{
		object: fmt.Sprintf("DaemonSet %q in namespace %q", daemonSet.Name,
			daemonSet.Namespace),
		selection: "node_selector, node_affinity and tolerations against the nodes' " +
			"labels and taints",
		judge: func() (pullerJudgement, error) {
			current, err := daemonSets.Get(ctx, daemonSet.Name, metav1.GetOptions{})
			if err != nil {
				return pullerJudgement{}, err
			}
			judgement, err := judgeDaemonSet(ctx, client, current, images)
			if err != nil {
				return judgement, err
			}
			// Until every node runs a pod of the current template, the controller may still
			// replace a pod that counts as cached now, and a refresh right after the apply
			// would see that node without the images.
			observed := current.Status.ObservedGeneration >= current.Generation
			rolledOut := current.Status.UpdatedNumberScheduled >=
				current.Status.DesiredNumberScheduled
			judgement.done = observed && rolledOut && allCached(judgement.statuses)
			if judgement.done || since.IsZero() ||
				current.Status.CurrentNumberScheduled >= current.Status.DesiredNumberScheduled {
				return judgement, nil
			}
			rejection, err := lastFailedCreate(ctx, client, current, since)
			if err != nil || rejection == "" {
				return judgement, err
			}
			judgement.rejection = rejection
			judgement.need = describeNeed(current, len(judgement.statuses))
			return judgement, errPodsRejected
		},
	}
}

// judgeDaemonSet judges once, from the puller's own pods, which images each selected node
// has.
func judgeDaemonSet(ctx context.Context, client kubernetes.Interface,
	daemonSet *appsv1.DaemonSet, images []puller.Image) (pullerJudgement, error) {
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return pullerJudgement{}, err
	}
	selector, err := metav1.LabelSelectorAsSelector(daemonSet.Spec.Selector)
	if err != nil {
		return pullerJudgement{}, fmt.Errorf("selector of DaemonSet %s: %w", daemonSet.Name,
			err)
	}
	pods, err := client.CoreV1().Pods(daemonSet.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: selector.String(),
	})
	if err != nil {
		return pullerJudgement{}, err
	}
	selected, excluded := puller.SelectNodes(daemonSet, nodes.Items)
	return pullerJudgement{
		statuses: puller.NodeStatuses(images, selected, pods.Items),
		excluded: excluded,
	}, nil
}

// lastFailedCreate returns the message of the newest FailedCreate event of the DaemonSet
// from since on, or "".
func lastFailedCreate(ctx context.Context, client kubernetes.Interface,
	daemonSet *appsv1.DaemonSet, since time.Time) (string, error) {
	events, err := client.CoreV1().Events(daemonSet.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.SelectorFromSet(fields.Set{
			"involvedObject.kind": "DaemonSet",
			"involvedObject.name": daemonSet.Name,
			"involvedObject.uid":  string(daemonSet.UID),
			"reason":              "FailedCreate",
		}).String(),
	})
	if err != nil {
		return "", err
	}
	var newest *corev1.Event
	for i := range events.Items {
		event := &events.Items[i]
		if eventTime(event).Before(since.Truncate(time.Second)) {
			continue
		}
		if newest == nil || eventTime(event).After(eventTime(newest)) {
			newest = event
		}
	}
	if newest == nil {
		return "", nil
	}
	return newest.Message, nil
}

func eventTime(event *corev1.Event) time.Time {
	switch {
	case !event.LastTimestamp.IsZero():
		return event.LastTimestamp.Time
	case !event.EventTime.IsZero():
		return event.EventTime.Time
	}
	return event.FirstTimestamp.Time
}

// describeNeed states what the pods of a DaemonSet request and limit in total over nodes
// nodes, as the ResourceQuota admission counts them: the sum over the containers, or the
// largest init container where that is more.
func describeNeed(daemonSet *appsv1.DaemonSet, nodes int) string {
	pod := daemonSet.Spec.Template.Spec
	total := func(list func(corev1.ResourceRequirements) corev1.ResourceList,
		name corev1.ResourceName) resource.Quantity {
		var sum resource.Quantity
		for _, container := range pod.Containers {
			if value, ok := list(container.Resources)[name]; ok {
				sum.Add(value)
			}
		}
		for _, container := range pod.InitContainers {
			if value, ok := list(container.Resources)[name]; ok && value.Cmp(sum) > 0 {
				sum = value.DeepCopy()
			}
		}
		perPod := sum.DeepCopy()
		for range max(nodes, 1) - 1 {
			sum.Add(perPod)
		}
		return sum
	}
	requests := func(r corev1.ResourceRequirements) corev1.ResourceList { return r.Requests }
	limits := func(r corev1.ResourceRequirements) corev1.ResourceList { return r.Limits }
	cpuRequests, memoryRequests := total(requests, corev1.ResourceCPU),
		total(requests, corev1.ResourceMemory)
	cpuLimits, memoryLimits := total(limits, corev1.ResourceCPU),
		total(limits, corev1.ResourceMemory)
	return fmt.Sprintf("The DaemonSet needs %d pods, one per selected node, of %d containers "+
		"each: in total %d pods, CPU requests %s and limits %s, memory requests %s and "+
		"limits %s.", max(nodes, 1), len(pod.Containers)+len(pod.InitContainers),
		max(nodes, 1), cpuRequests.String(), cpuLimits.String(), memoryRequests.String(),
		memoryLimits.String())
}

// pollJudgements calls judge at once and then at growing intervals up to
// imagePullerPollInterval until it reports done or fails, or until deadline, when it returns
// the last judgement and errNotCached. The requests keep ctx without the deadline: a request
// near a context deadline fails inside client-go's rate limiter with an error that hides the
// nodes' state.
func pollJudgements(ctx context.Context, deadline time.Time,
	judge func() (pullerJudgement, error)) (pullerJudgement, error) {
	interval := min(time.Second, imagePullerPollInterval)
	var last pullerJudgement
	for {
		judgement, err := judge()
		if err != nil {
			if judgement.statuses == nil {
				judgement = last
			}
			return judgement, err
		}
		last = judgement
		if judgement.done {
			return judgement, nil
		}
		if time.Now().After(deadline) {
			return judgement, errNotCached
		}

		wait := time.NewTimer(min(interval, max(time.Until(deadline), 0)))
		select {
		case <-ctx.Done():
			wait.Stop()
			return judgement, ctx.Err()
		case <-wait.C:
		}
		interval = min(2*interval, imagePullerPollInterval)
	}
}

func allCached(statuses []puller.NodeStatus) bool {
	for _, status := range statuses {
		if len(status.Missing) > 0 {
			return false
		}
	}
	return true
}

// rateLimitMarkers are texts by which registries and runtimes report a pull rate limit.
var rateLimitMarkers = []string{"429", "toomanyrequests", "too many requests", "rate limit"}

// describeMissing lists the nodes that lack images, one line each, with the reason for each
// image when the kubelet gave one, and a hint when the registry limits the pull rate.
func describeMissing(statuses []puller.NodeStatus) string {
	var lines []string
	incomplete := 0
	rateLimited := false
	for _, status := range statuses {
		if len(status.Missing) == 0 {
			continue
		}
		incomplete++
		reasons := map[string]string{}
		for _, failure := range status.Errors {
			reasons[failure.Key] = fmt.Sprintf("%s: %s", failure.Reason, failure.Message)
			lower := strings.ToLower(failure.Message)
			for _, marker := range rateLimitMarkers {
				rateLimited = rateLimited || strings.Contains(lower, marker)
			}
		}
		if incomplete > maxReportedNodes {
			continue
		}
		var parts []string
		for _, key := range status.Missing {
			reason, ok := reasons[key]
			if !ok {
				reason = "not pulled yet"
				if status.Pod == "" {
					reason = "no puller pod on the node yet"
				}
			}
			parts = append(parts, fmt.Sprintf("%s (%s)", key, reason))
		}
		lines = append(lines, fmt.Sprintf("- %s: %s", status.Node, strings.Join(parts, "; ")))
	}
	if incomplete > maxReportedNodes {
		lines = append(lines, fmt.Sprintf("- and %d more nodes", incomplete-maxReportedNodes))
	}
	if rateLimited {
		lines = append(lines, "", "The registry limits the pull rate, and every node "+
			"pulls at once. Lower max_unavailable for updates, pull through a mirror "+
			"(imagedist_registry_mirror), or authenticate with image_pull_secrets, whose "+
			"limits are usually higher.")
	}
	return strings.Join(lines, "\n")
}
