package testcluster

import (
	"context"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"sync"
	"time"

	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/imagedist/terraform-provider-imagedist/internal/kubeletgc"
)

var kubeletConfigResource = schema.GroupVersionResource{
	Group: "machineconfiguration.openshift.io", Version: "v1", Resource: "kubeletconfigs",
}

// ConditionStyle is the format of the KubeletConfig conditions that one release of the
// machine-config operator writes.
type ConditionStyle string

const (
	// ConditionStyle416 is OpenShift 4.16 to 4.21: Success True, or Failure with status
	// False.
	ConditionStyle416 ConditionStyle = "4.16"
	// ConditionStyle422 is OpenShift 4.22: Success True, or Failure True.
	ConditionStyle422 ConditionStyle = "4.22"
	// ConditionStyle423 is OpenShift 4.23 and later: Accepted, then the legacy entry.
	ConditionStyle423 ConditionStyle = "4.23"
)

// MachineConfigOperator plays the machine-config operator for KubeletConfigs, which the
// local control plane cannot run. It writes their conditions in the style of one release
// and, when Rollout is set, rolls the selected pools out in two steps: updating, then
// updated on a new rendered-<pool>-<hash> configuration, or degraded. It creates no
// MachineConfig objects and changes no nodes.
type MachineConfigOperator struct {
	Client dynamic.Interface
	// NamePrefix limits the operator to KubeletConfigs whose names start with it. Empty
	// means all of them.
	NamePrefix string
	Style      ConditionStyle
	// Reject, when set, is the message with which the operator rejects each KubeletConfig.
	Reject string
	// RejectFrom, when above zero, limits Reject to generations from this one on, so
	// earlier ones are accepted.
	RejectFrom int64
	Rollout    bool
	// Degrade, when set, ends each rollout with NodeDegraded and this message.
	Degrade string
	// WithoutObservedGeneration leaves status.observedGeneration at zero, as some releases
	// of the operator do.
	WithoutObservedGeneration bool
	// RolloutDelay keeps a pool on its previous rendered configuration, not updating, for
	// this long after the verdict, as a busy operator does.
	RolloutDelay time.Duration
	// PollInterval is the time between two passes over the KubeletConfigs. Zero means
	// 50 ms.
	PollInterval time.Duration
	// Logf receives the errors of a pass, after which the operator tries again. Nil
	// discards them.
	Logf func(format string, args ...any)

	mu      sync.Mutex
	pending map[string]*poolRollout // pool name to its rollout
	// handled maps the UID of each KubeletConfig to the last generation reported on. The
	// UID, unlike the name, changes when an object is deleted and created again.
	handled map[types.UID]int64
	renders int // rendered configurations made so far
}

// poolRollout is a rollout that has not finished.
type poolRollout struct {
	machineConfig string    // the generated MachineConfig
	start         time.Time // when the pool starts updating
	started       bool
}

// Start runs the operator in the background until ctx is done and returns a function that
// waits for it to stop.
func (o *MachineConfigOperator) Start(ctx context.Context) (wait func()) {
	o.pending = map[string]*poolRollout{}
	o.handled = map[types.UID]int64{}
	return startLoop(ctx, o.PollInterval, 50*time.Millisecond, func(ctx context.Context) {
		if err := o.sync(ctx); err != nil && ctx.Err() == nil && o.Logf != nil {
			o.Logf("machine-config operator: %v", err)
		}
	})
}

func (o *MachineConfigOperator) sync(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()

	if err := o.finishRollouts(ctx); err != nil {
		return err
	}
	list, err := o.Client.Resource(kubeletConfigResource).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing KubeletConfigs: %w", err)
	}
	pools, err := o.listPools(ctx)
	if err != nil {
		return err
	}
	for i := range list.Items {
		object := &list.Items[i]
		if !strings.HasPrefix(object.GetName(), o.NamePrefix) ||
			object.GetGeneration() == o.handled[object.GetUID()] {
			continue
		}
		object, err := o.assignSuffix(ctx, object, list.Items, pools)
		if err != nil {
			return err
		}
		if err := o.report(ctx, object, pools); err != nil {
			return err
		}
	}
	return nil
}

// assignSuffix gives a KubeletConfig that has no MachineConfig name suffix yet the first one
// that no other KubeletConfig of its pools uses, as the operator does: none ("") for the
// first, then 1 to 9. It returns the object as updated.
func (o *MachineConfigOperator) assignSuffix(ctx context.Context,
	object *unstructured.Unstructured, all []unstructured.Unstructured,
	pools []mcfgv1.MachineConfigPool) (*unstructured.Unstructured, error) {
	key := kubeletgc.AnnotationMachineConfigNameSuffix
	if _, ok := object.GetAnnotations()[key]; ok {
		return object, nil
	}
	selected := selectedPools(object, pools)
	used := map[string]bool{}
	for i := range all {
		other := &all[i]
		suffix, ok := other.GetAnnotations()[key]
		if !ok || other.GetUID() == object.GetUID() {
			continue
		}
		for _, pool := range selectedPools(other, pools) {
			if slices.Contains(selected, pool) {
				used[suffix] = true
			}
		}
	}
	suffix := ""
	for n := 1; used[suffix] && n <= kubeletgc.MaxConfigsPerPool; n++ {
		suffix = fmt.Sprint(n)
	}

	annotations := object.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[key] = suffix
	object.SetAnnotations(annotations)
	updated, err := o.Client.Resource(kubeletConfigResource).Update(ctx, object,
		metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("annotating KubeletConfig %s: %w", object.GetName(), err)
	}
	return updated, nil
}

// selectedPools returns the pools that a KubeletConfig object selects, or none when it cannot
// be decoded.
func selectedPools(object *unstructured.Unstructured, pools []mcfgv1.MachineConfigPool) []string {
	var config mcfgv1.KubeletConfig
	if runtime.DefaultUnstructuredConverter.FromUnstructured(object.Object, &config) != nil {
		return nil
	}
	selected, _ := kubeletgc.SelectedPools(config.Spec.MachineConfigPoolSelector, pools)
	return selected
}

// report adds the verdict on the KubeletConfig's current generation as the operator does: it
// appends a condition, or refreshes the time of the last one when the message repeats, and
// keeps the last three.
func (o *MachineConfigOperator) report(ctx context.Context,
	object *unstructured.Unstructured, pools []mcfgv1.MachineConfigPool) error {
	var config mcfgv1.KubeletConfig
	err := runtime.DefaultUnstructuredConverter.FromUnstructured(object.Object, &config)
	if err != nil {
		return fmt.Errorf("decoding KubeletConfig %s: %w", object.GetName(), err)
	}
	selected, _ := kubeletgc.SelectedPools(config.Spec.MachineConfigPoolSelector, pools)

	failure := o.Reject
	if o.RejectFrom > 0 && config.Generation < o.RejectFrom {
		failure = ""
	}
	if len(selected) == 0 {
		failure = "Error: could not find any MachineConfigPool set for KubeletConfig " +
			config.Name
	}
	conditions := config.Status.Conditions
	if len(conditions) > 0 {
		// A client detects a repeated message only by its new time, which has one-second
		// precision, and a real operator reports a change later than this.
		waitForNextSecond(conditions[len(conditions)-1].LastTransitionTime)
	}
	for _, condition := range o.conditions(failure) {
		last := len(conditions) - 1
		if last >= 0 && conditions[last].Message == condition.Message {
			conditions[last].LastTransitionTime = condition.LastTransitionTime
			continue
		}
		conditions = append(conditions, condition)
	}
	if len(conditions) > 3 {
		conditions = conditions[len(conditions)-3:]
	}
	status := mcfgv1.KubeletConfigStatus{Conditions: conditions}
	if !o.WithoutObservedGeneration {
		status.ObservedGeneration = config.Generation
	}
	if err := setStatus(object, &status); err != nil {
		return err
	}
	_, err = o.Client.Resource(kubeletConfigResource).UpdateStatus(ctx, object,
		metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("updating the status of KubeletConfig %s: %w", config.Name, err)
	}
	o.handled[config.UID] = config.Generation
	if failure != "" || !o.Rollout {
		return nil
	}

	for _, name := range selected {
		o.pending[name] = &poolRollout{
			machineConfig: kubeletgc.GeneratedMachineConfigName(&config, name),
			start:         time.Now().Add(o.RolloutDelay),
		}
	}
	return nil
}

func waitForNextSecond(previous metav1.Time) {
	for now := metav1.Now().Rfc3339Copy(); now.Equal(&previous); {
		time.Sleep(50 * time.Millisecond)
		now = metav1.Now().Rfc3339Copy()
	}
}

func (o *MachineConfigOperator) conditions(failure string) []mcfgv1.KubeletConfigCondition {
	now := metav1.Now().Rfc3339Copy()
	condition := func(kind mcfgv1.KubeletConfigStatusConditionType,
		status corev1.ConditionStatus, message string) mcfgv1.KubeletConfigCondition {
		return mcfgv1.KubeletConfigCondition{
			Type: kind, Status: status, LastTransitionTime: now, Message: message,
		}
	}
	success := condition(mcfgv1.KubeletConfigSuccess, corev1.ConditionTrue, "Success")
	switch {
	case o.Style == ConditionStyle416 && failure != "":
		return []mcfgv1.KubeletConfigCondition{
			condition(mcfgv1.KubeletConfigFailure, corev1.ConditionFalse, failure)}
	case o.Style == ConditionStyle416 || o.Style == ConditionStyle422 && failure == "":
		return []mcfgv1.KubeletConfigCondition{success}
	case o.Style == ConditionStyle422:
		return []mcfgv1.KubeletConfigCondition{
			condition(mcfgv1.KubeletConfigFailure, corev1.ConditionTrue, failure)}
	case failure != "":
		return []mcfgv1.KubeletConfigCondition{
			condition("Accepted", corev1.ConditionFalse, failure),
			condition(mcfgv1.KubeletConfigFailure, corev1.ConditionTrue, failure)}
	}
	return []mcfgv1.KubeletConfigCondition{
		condition("Accepted", corev1.ConditionTrue, "Success"), success}
}

// finishRollouts starts the rollouts that are due and ends those that started, one pass
// later.
func (o *MachineConfigOperator) finishRollouts(ctx context.Context) error {
	if len(o.pending) == 0 {
		return nil
	}
	pools, err := o.listPools(ctx)
	if err != nil {
		return err
	}
	for i := range pools {
		rollout, ok := o.pending[pools[i].Name]
		switch {
		case !ok || time.Now().Before(rollout.start):
			continue
		case !rollout.started:
			if err := o.writePoolStatus(ctx, &pools[i], "", false); err != nil {
				return err
			}
			rollout.started = true
			continue
		}
		err := o.writePoolStatus(ctx, &pools[i], rollout.machineConfig, true)
		if err != nil {
			return err
		}
		delete(o.pending, pools[i].Name)
	}
	return nil
}

// writePoolStatus writes a pool status that is updating, or finished on a new rendered
// configuration with the generated MachineConfig added to the pool's sources, or degraded
// when o.Degrade is set.
func (o *MachineConfigOperator) writePoolStatus(ctx context.Context,
	pool *mcfgv1.MachineConfigPool, generated string, finished bool) error {
	current := pool.Status.Configuration
	machines := pool.Status.MachineCount
	status := PoolStatus(pool.Generation, machines, !finished, current)

	switch {
	case finished && o.Degrade != "":
		status = PoolStatus(pool.Generation, machines, true, current)
		status.DegradedMachineCount = 1
		setPoolCondition(&status, mcfgv1.MachineConfigPoolNodeDegraded, corev1.ConditionTrue,
			o.Degrade)
		setPoolCondition(&status, mcfgv1.MachineConfigPoolDegraded, corev1.ConditionTrue,
			"1 nodes are reporting degraded status on sync")
	case finished:
		if !slices.ContainsFunc(current.Source,
			func(source corev1.ObjectReference) bool { return source.Name == generated }) {
			current.Source = append(slices.Clone(current.Source),
				corev1.ObjectReference{Kind: "MachineConfig", Name: generated})
		}
		o.renders++
		current.Name = fmt.Sprintf("rendered-%s-%08x", pool.Name,
			crc32.ChecksumIEEE([]byte(fmt.Sprint(pool.Name, o.renders))))
		status = PoolStatus(pool.Generation, machines, false, current)
	}
	return UpdatePoolStatus(ctx, o.Client, pool.Name, status)
}

func (o *MachineConfigOperator) listPools(ctx context.Context) (
	[]mcfgv1.MachineConfigPool, error) {
	list, err := o.Client.Resource(machineConfigPoolResource).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing MachineConfigPools: %w", err)
	}
	pools := make([]mcfgv1.MachineConfigPool, len(list.Items))
	for i := range list.Items {
		err := runtime.DefaultUnstructuredConverter.FromUnstructured(list.Items[i].Object,
			&pools[i])
		if err != nil {
			return nil, fmt.Errorf("decoding MachineConfigPool %s: %w",
				list.Items[i].GetName(), err)
		}
	}
	return pools, nil
}

// PoolStatus is the status that the machine-config operator reports for a pool of machines
// on the rendered configuration. All machines are updated unless updating is set, in which
// case a third of them are and one is unavailable.
func PoolStatus(generation int64, machines int32, updating bool,
	configuration mcfgv1.MachineConfigPoolStatusConfiguration,
) mcfgv1.MachineConfigPoolStatus {
	status := mcfgv1.MachineConfigPoolStatus{
		ObservedGeneration:  generation,
		Configuration:       configuration,
		MachineCount:        machines,
		UpdatedMachineCount: machines,
		ReadyMachineCount:   machines,
	}
	for _, kind := range []mcfgv1.MachineConfigPoolConditionType{
		mcfgv1.MachineConfigPoolRenderDegraded, mcfgv1.MachineConfigPoolNodeDegraded,
		mcfgv1.MachineConfigPoolDegraded, mcfgv1.MachineConfigPoolUpdating,
	} {
		setPoolCondition(&status, kind, corev1.ConditionFalse, "")
	}
	if !updating {
		setPoolCondition(&status, mcfgv1.MachineConfigPoolUpdated, corev1.ConditionTrue,
			"All nodes are updated with "+configuration.Name)
		return status
	}

	status.UpdatedMachineCount = machines / 3
	status.UnavailableMachineCount = min(machines, 1)
	status.ReadyMachineCount = machines - status.UnavailableMachineCount
	setPoolCondition(&status, mcfgv1.MachineConfigPoolUpdated, corev1.ConditionFalse, "")
	setPoolCondition(&status, mcfgv1.MachineConfigPoolUpdating, corev1.ConditionTrue,
		"All nodes are updating to "+configuration.Name)
	return status
}

func setPoolCondition(status *mcfgv1.MachineConfigPoolStatus,
	kind mcfgv1.MachineConfigPoolConditionType, value corev1.ConditionStatus, message string) {
	for i := range status.Conditions {
		if status.Conditions[i].Type == kind {
			status.Conditions[i].Status = value
			status.Conditions[i].Message = message
			return
		}
	}
	status.Conditions = append(status.Conditions, mcfgv1.MachineConfigPoolCondition{
		Type: kind, Status: value, LastTransitionTime: metav1.Now().Rfc3339Copy(),
		Message: message,
	})
}

// UpdatePoolStatus writes status to the pool named name through the status subresource,
// with the observed generation set to the pool's current one.
func UpdatePoolStatus(ctx context.Context, client dynamic.Interface, name string,
	status mcfgv1.MachineConfigPoolStatus) error {
	resource := client.Resource(machineConfigPoolResource)
	object, err := resource.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading MachineConfigPool %s: %w", name, err)
	}
	status.ObservedGeneration = object.GetGeneration()
	if err := setStatus(object, &status); err != nil {
		return err
	}
	if _, err := resource.UpdateStatus(ctx, object, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating the status of MachineConfigPool %s: %w", name, err)
	}
	return nil
}

// CreatePool creates a custom pool named name with machines machines, labelled like the pools
// OpenShift creates plus the given extra labels, selecting nodes with the
// node-role.kubernetes.io/<name> label, with a finished rollout.
func CreatePool(ctx context.Context, client dynamic.Interface, name string, machines int32,
	extraLabels map[string]string) error {
	labels := map[string]string{"pools.operator.machineconfiguration.openshift.io/" + name: ""}
	for key, value := range extraLabels {
		labels[key] = value
	}
	pool := &mcfgv1.MachineConfigPool{
		TypeMeta: metav1.TypeMeta{
			APIVersion: "machineconfiguration.openshift.io/v1", Kind: "MachineConfigPool",
		},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: mcfgv1.MachineConfigPoolSpec{
			MachineConfigSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"machineconfiguration.openshift.io/role": name},
			},
			NodeSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"node-role.kubernetes.io/" + name: ""},
			},
		},
	}
	configuration := mcfgv1.MachineConfigPoolStatusConfiguration{
		ObjectReference: corev1.ObjectReference{Name: "rendered-" + name + "-initial"},
		Source:          []corev1.ObjectReference{{Kind: "MachineConfig", Name: "00-" + name}},
	}
	return createWithStatus(ctx, client.Resource(machineConfigPoolResource), pool,
		func(object *unstructured.Unstructured) error {
			status := PoolStatus(object.GetGeneration(), machines, false, configuration)
			return setStatus(object, &status)
		})
}
