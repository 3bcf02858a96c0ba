package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/imagedist/terraform-provider-imagedist/internal/kubeletgc"
)

// conditionStyle is how a release of the machine-config operator writes KubeletConfig
// conditions.
type conditionStyle string

const (
	// style416 is OpenShift 4.16 to 4.21: Success True, or Failure with status False.
	style416 conditionStyle = "4.16"
	// style422 is OpenShift 4.22: Success True, or Failure True.
	style422 conditionStyle = "4.22"
	// style423 is OpenShift 4.23 and later: Accepted, then the legacy entry.
	style423 conditionStyle = "4.23"
)

// fakeMachineConfigOperator plays the machine-config operator for the KubeletConfigs whose
// names start with prefix: it writes their conditions and, when rollout is set, rolls the
// selected pools out in two steps (updating, then updated or degraded), each accepted change
// to a new rendered-<pool>-<hash> configuration.
type fakeMachineConfigOperator struct {
	client dynamic.Interface
	prefix string
	style  conditionStyle
	reject string // when set, the operator rejects each KubeletConfig with this message
	// rejectFrom, when above zero, makes the operator reject generations from this one on
	// with the message in reject, and accept earlier ones.
	rejectFrom int64
	rollout    bool
	degrade    string // when set, the rollout ends with NodeDegraded and this message
	// withoutObservedGeneration leaves status.observedGeneration at zero, as some releases
	// of the operator do.
	withoutObservedGeneration bool
	// rolloutDelay keeps a pool on its previous rendered configuration, not updating, for
	// this long after the verdict, as a busy operator does.
	rolloutDelay time.Duration

	mu      sync.Mutex
	pending map[string]*fakeRollout // pool name to its rollout
	handled map[string]int64        // KubeletConfig name to the last generation reported on
	renders int                     // rendered configurations made so far
}

// fakeRollout is a rollout of the fake operator that has not finished.
type fakeRollout struct {
	machineConfig string    // the generated MachineConfig
	start         time.Time // when the pool starts updating
	started       bool
}

// start runs the operator until the test ends.
func (o *fakeMachineConfigOperator) start(t *testing.T) {
	t.Helper()
	o.pending = map[string]*fakeRollout{}
	o.handled = map[string]int64{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(50 * time.Millisecond)
		defer ticker.Stop()
		for {
			if err := o.sync(ctx); err != nil && ctx.Err() == nil {
				t.Logf("fake machine-config operator: %v", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func (o *fakeMachineConfigOperator) sync(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()

	if err := o.finishRollouts(ctx); err != nil {
		return err
	}
	list, err := o.client.Resource(kubeletConfigGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	pools, err := listPools(ctx, o.client)
	if err != nil {
		return err
	}
	for i := range list.Items {
		object := &list.Items[i]
		if !strings.HasPrefix(object.GetName(), o.prefix) ||
			object.GetGeneration() == o.handled[object.GetName()] {
			continue
		}
		if err := o.report(ctx, object, pools); err != nil {
			return err
		}
	}
	return nil
}

// report adds the verdict on the KubeletConfig's current generation as the operator does: it
// appends a condition, or refreshes the time of the last one when the message repeats, and
// keeps the last three.
func (o *fakeMachineConfigOperator) report(ctx context.Context,
	object *unstructured.Unstructured, pools []mcfgv1.MachineConfigPool) error {
	config, err := typedKubeletConfig(object)
	if err != nil {
		return err
	}
	selected, _ := kubeletgc.SelectedPools(config.Spec.MachineConfigPoolSelector, pools)

	failure := o.reject
	if o.rejectFrom > 0 && config.Generation < o.rejectFrom {
		failure = ""
	}
	if len(selected) == 0 {
		failure = "Error: could not find any MachineConfigPool set for KubeletConfig " +
			config.Name
	}
	conditions := config.Status.Conditions
	if len(conditions) > 0 {
		// The provider detects a repeated message only by its new time, which has
		// one-second precision, and a real operator reports a change later than this.
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
	if !o.withoutObservedGeneration {
		status.ObservedGeneration = config.Generation
	}
	if err := setObjectStatus(object, status); err != nil {
		return err
	}
	_, err = o.client.Resource(kubeletConfigGVR).UpdateStatus(ctx, object,
		metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	o.handled[config.Name] = config.Generation
	if failure != "" || !o.rollout {
		return nil
	}

	for i := range pools {
		for _, name := range selected {
			if pools[i].Name != name {
				continue
			}
			o.pending[name] = &fakeRollout{
				machineConfig: kubeletgc.GeneratedMachineConfigName(config, name),
				start:         time.Now().Add(o.rolloutDelay),
			}
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

func (o *fakeMachineConfigOperator) conditions(failure string) []mcfgv1.KubeletConfigCondition {
	now := metav1.Now().Rfc3339Copy()
	condition := func(kind mcfgv1.KubeletConfigStatusConditionType,
		status corev1.ConditionStatus, message string) mcfgv1.KubeletConfigCondition {
		return mcfgv1.KubeletConfigCondition{
			Type: kind, Status: status, LastTransitionTime: now, Message: message,
		}
	}
	success := condition(mcfgv1.KubeletConfigSuccess, corev1.ConditionTrue, "Success")
	switch {
	case o.style == style416 && failure != "":
		return []mcfgv1.KubeletConfigCondition{
			condition(mcfgv1.KubeletConfigFailure, corev1.ConditionFalse, failure)}
	case o.style == style416 || o.style == style422 && failure == "":
		return []mcfgv1.KubeletConfigCondition{success}
	case o.style == style422:
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

// finishRollouts starts the rollouts that are due and ends those that started, one poll
// later.
func (o *fakeMachineConfigOperator) finishRollouts(ctx context.Context) error {
	if len(o.pending) == 0 {
		return nil
	}
	pools, err := listPools(ctx, o.client)
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

// writePoolStatus writes a pool status with three machines: updating, or finished on a new
// rendered configuration with the MachineConfig generated added to the pool's sources, or
// degraded when o.degrade is set.
func (o *fakeMachineConfigOperator) writePoolStatus(ctx context.Context,
	pool *mcfgv1.MachineConfigPool, generated string, finished bool) error {
	status := testPoolStatus(pool.Generation, finished, pool.Status.Configuration.Source)
	status.Configuration.Name = pool.Status.Configuration.Name
	if finished && o.degrade != "" {
		status = testPoolStatus(pool.Generation, false, pool.Status.Configuration.Source)
		status.DegradedMachineCount = 1
		setTestPoolCondition(&status, mcfgv1.MachineConfigPoolNodeDegraded,
			corev1.ConditionTrue, o.degrade)
		setTestPoolCondition(&status, mcfgv1.MachineConfigPoolDegraded, corev1.ConditionTrue,
			"1 nodes are reporting degraded status on sync")
	} else if finished {
		if !slices.ContainsFunc(status.Configuration.Source,
			func(source corev1.ObjectReference) bool { return source.Name == generated }) {
			status.Configuration.Source = append(status.Configuration.Source,
				corev1.ObjectReference{Kind: "MachineConfig", Name: generated})
		}
		o.renders++
		status.Configuration.Name = fmt.Sprintf("rendered-%s-%08x", pool.Name,
			crc32.ChecksumIEEE([]byte(fmt.Sprint(pool.Name, o.renders))))
	}
	return updatePoolStatus(ctx, o.client, pool.Name, status)
}

func updatePoolStatus(ctx context.Context, client dynamic.Interface, name string,
	status mcfgv1.MachineConfigPoolStatus) error {
	object, err := client.Resource(machineConfigPoolGVR).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	status.ObservedGeneration = object.GetGeneration()
	if err := setObjectStatus(object, status); err != nil {
		return err
	}
	_, err = client.Resource(machineConfigPoolGVR).UpdateStatus(ctx, object,
		metav1.UpdateOptions{})
	return err
}

// testPoolStatus is the status of a pool of three machines, all updated when finished is
// true and one of three otherwise.
func testPoolStatus(generation int64, finished bool,
	sources []corev1.ObjectReference) mcfgv1.MachineConfigPoolStatus {
	status := mcfgv1.MachineConfigPoolStatus{
		ObservedGeneration:  generation,
		MachineCount:        3,
		UpdatedMachineCount: 3,
		ReadyMachineCount:   3,
		Configuration: mcfgv1.MachineConfigPoolStatusConfiguration{
			ObjectReference: corev1.ObjectReference{Name: "rendered-test"},
			Source:          append([]corev1.ObjectReference(nil), sources...),
		},
	}
	for _, kind := range []mcfgv1.MachineConfigPoolConditionType{
		mcfgv1.MachineConfigPoolRenderDegraded, mcfgv1.MachineConfigPoolNodeDegraded,
		mcfgv1.MachineConfigPoolDegraded, mcfgv1.MachineConfigPoolUpdating,
	} {
		setTestPoolCondition(&status, kind, corev1.ConditionFalse, "")
	}
	setTestPoolCondition(&status, mcfgv1.MachineConfigPoolUpdated, corev1.ConditionTrue, "")
	if !finished {
		status.UpdatedMachineCount = 1
		status.ReadyMachineCount = 2
		status.UnavailableMachineCount = 1
		setTestPoolCondition(&status, mcfgv1.MachineConfigPoolUpdated,
			corev1.ConditionFalse, "")
		setTestPoolCondition(&status, mcfgv1.MachineConfigPoolUpdating,
			corev1.ConditionTrue, "")
	}
	return status
}

func setTestPoolCondition(status *mcfgv1.MachineConfigPoolStatus,
	kind mcfgv1.MachineConfigPoolConditionType, value corev1.ConditionStatus, message string) {
	for i := range status.Conditions {
		if status.Conditions[i].Type == kind {
			status.Conditions[i].Status = value
			status.Conditions[i].Message = message
			return
		}
	}
	status.Conditions = append(status.Conditions, mcfgv1.MachineConfigPoolCondition{
		Type: kind, Status: value, LastTransitionTime: metav1.Now(), Message: message,
	})
}

func setObjectStatus(object *unstructured.Unstructured, status any) error {
	encoded, err := json.Marshal(status)
	if err != nil {
		return err
	}
	var fields map[string]any
	if err := json.Unmarshal(encoded, &fields); err != nil {
		return err
	}
	object.Object["status"] = fields
	return nil
}

// createTestPool creates a custom pool named name, labelled like the pools OpenShift creates,
// with a finished rollout, and deletes it when the test ends.
func createTestPool(t *testing.T, client dynamic.Interface, name string) {
	t.Helper()
	ctx := context.Background()
	object := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": machineConfigPoolGVR.GroupVersion().String(),
		"kind":       "MachineConfigPool",
		"metadata": map[string]any{
			"name":   name,
			"labels": map[string]any{poolLabelPrefix + name: "", "imagedist-test": name},
		},
		"spec": map[string]any{
			"machineConfigSelector": map[string]any{
				"matchLabels": map[string]any{"machineconfiguration.openshift.io/role": name},
			},
			"nodeSelector": map[string]any{
				"matchLabels": map[string]any{"node-role.kubernetes.io/" + name: ""},
			},
		},
	}}
	_, err := client.Resource(machineConfigPoolGVR).Create(ctx, object, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating machine config pool %s: %v", name, err)
	}
	t.Cleanup(func() {
		err := client.Resource(machineConfigPoolGVR).Delete(context.Background(), name,
			metav1.DeleteOptions{})
		if err != nil {
			t.Logf("deleting machine config pool %s: %v", name, err)
		}
	})
	sources := []corev1.ObjectReference{{Kind: "MachineConfig", Name: "00-" + name}}
	if err := updatePoolStatus(ctx, client, name, testPoolStatus(0, true, sources)); err != nil {
		t.Fatalf("writing the status of machine config pool %s: %v", name, err)
	}
}
