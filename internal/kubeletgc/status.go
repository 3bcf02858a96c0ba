package kubeletgc

import (
	"fmt"

	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	corev1 "k8s.io/api/core/v1"
)

// ConfigState is how far the machine-config operator got with a KubeletConfig.
type ConfigState string

// States that Verdict returns.
const (
	// ConfigPending means the operator has not yet reported on the KubeletConfig.
	ConfigPending ConfigState = "pending"
	// ConfigAccepted means the operator rendered the KubeletConfig into a MachineConfig. The
	// nodes may not run it yet: PoolRollout reports that.
	ConfigAccepted ConfigState = "accepted"
	// ConfigFailed means the operator rejected the KubeletConfig.
	ConfigFailed ConfigState = "failed"
)

// conditionAccepted is the KubeletConfig condition type that OpenShift 4.23 added. The pinned
// github.com/openshift/api has no constant for it.
const conditionAccepted mcfgv1.KubeletConfigStatusConditionType = "Accepted"

// Verdict interprets a KubeletConfig's status.conditions. The machine-config operator appends
// conditions and keeps the last three, so only the last one is current. Its type is the
// signal, because the status of a Failure condition changed between releases:
//
//   - OpenShift 4.16 to 4.21 append Success (status True) or Failure (status False).
//   - OpenShift 4.22 appends Success (True) or Failure (True).
//   - OpenShift 4.23 appends Accepted (True or False) and then the legacy Success or Failure
//     entry (Failure with status True), so the legacy entry is usually last.
//
// Success (any status) or Accepted with status True is accepted. Failure (any status) or
// Accepted with status False is failed, and the message is the condition's message. No
// conditions, Accepted with status Unknown or any other type is pending.
func Verdict(conditions []mcfgv1.KubeletConfigCondition) (ConfigState, string) {
	if len(conditions) == 0 {
		return ConfigPending, "the machine-config operator has not reported a condition yet"
	}
	last := conditions[len(conditions)-1]

	switch {
	case last.Type == mcfgv1.KubeletConfigSuccess:
		return ConfigAccepted, conditionText(last)
	case last.Type == mcfgv1.KubeletConfigFailure:
		return ConfigFailed, conditionText(last)
	case last.Type == conditionAccepted && last.Status == corev1.ConditionTrue:
		return ConfigAccepted, conditionText(last)
	case last.Type == conditionAccepted && last.Status == corev1.ConditionFalse:
		return ConfigFailed, conditionText(last)
	}

	return ConfigPending, fmt.Sprintf("the last condition is type %q with status %q, "+
		"which does not report a result yet", last.Type, last.Status)
}

// conditionText returns the message of a KubeletConfig condition, or its reason when the
// message is empty.
func conditionText(condition mcfgv1.KubeletConfigCondition) string {
	switch {
	case condition.Message != "":
		return condition.Message
	case condition.Reason != "":
		return condition.Reason
	}

	return fmt.Sprintf("condition %s with status %q and no message", condition.Type,
		condition.Status)
}

// RolloutState is how far a MachineConfigPool got with rolling out its current configuration.
type RolloutState string

// States that PoolRollout returns.
const (
	RolloutInProgress RolloutState = "in progress"
	RolloutDone       RolloutState = "done"
	RolloutDegraded   RolloutState = "degraded"
)

// degradedConditions are checked in this order, so the specific NodeDegraded or RenderDegraded
// message wins over the summary that Degraded repeats.
var degradedConditions = []mcfgv1.MachineConfigPoolConditionType{
	mcfgv1.MachineConfigPoolNodeDegraded,
	mcfgv1.MachineConfigPoolRenderDegraded,
	mcfgv1.MachineConfigPoolDegraded,
}

// PoolRollout interprets a MachineConfigPool's status. The pool is degraded when Degraded,
// NodeDegraded or RenderDegraded is True, and the message is that condition's message. It is
// done when status.observedGeneration equals metadata.generation, Updated is True, Updating is
// False and every machine is updated. Otherwise the rollout is in progress and the message
// gives the machine counts.
//
// Done means the pool runs its current rendered configuration. Right after a KubeletConfig is
// accepted the pool may not have picked up the new MachineConfig yet, so callers also check
// PoolUsesMachineConfig.
func PoolRollout(pool *mcfgv1.MachineConfigPool) (RolloutState, string) {
	if pool == nil {
		return RolloutInProgress, "the machine config pool is not known yet"
	}
	status := pool.Status

	for _, conditionType := range degradedConditions {
		condition := poolCondition(pool, conditionType)
		if condition != nil && condition.Status == corev1.ConditionTrue {
			return RolloutDegraded, fmt.Sprintf("machine config pool %s is %s: %s (%d of %d "+
				"machines degraded)", pool.Name, conditionType, poolConditionText(condition),
				status.DegradedMachineCount, status.MachineCount)
		}
	}

	counts := fmt.Sprintf("%d of %d machines updated, %d ready, %d unavailable",
		status.UpdatedMachineCount, status.MachineCount, status.ReadyMachineCount,
		status.UnavailableMachineCount)

	if status.ObservedGeneration != pool.Generation {
		return RolloutInProgress, fmt.Sprintf("machine config pool %s: the machine-config "+
			"operator has observed generation %d of %d. %s", pool.Name,
			status.ObservedGeneration, pool.Generation, counts)
	}

	if poolConditionIs(pool, mcfgv1.MachineConfigPoolUpdated, corev1.ConditionTrue) &&
		poolConditionIs(pool, mcfgv1.MachineConfigPoolUpdating, corev1.ConditionFalse) &&
		status.UpdatedMachineCount == status.MachineCount {
		return RolloutDone, fmt.Sprintf("machine config pool %s: %s", pool.Name, counts)
	}

	message := fmt.Sprintf("machine config pool %s: %s", pool.Name, counts)
	if pool.Spec.Paused {
		message += ". The pool is paused, so no machine updates until spec.paused is false"
	}

	return RolloutInProgress, message
}

func poolCondition(
	pool *mcfgv1.MachineConfigPool, conditionType mcfgv1.MachineConfigPoolConditionType,
) *mcfgv1.MachineConfigPoolCondition {
	for i := range pool.Status.Conditions {
		if pool.Status.Conditions[i].Type == conditionType {
			return &pool.Status.Conditions[i]
		}
	}

	return nil
}

func poolConditionIs(
	pool *mcfgv1.MachineConfigPool, conditionType mcfgv1.MachineConfigPoolConditionType,
	status corev1.ConditionStatus,
) bool {
	condition := poolCondition(pool, conditionType)

	return condition != nil && condition.Status == status
}

func poolConditionText(condition *mcfgv1.MachineConfigPoolCondition) string {
	switch {
	case condition.Message != "":
		return condition.Message
	case condition.Reason != "":
		return condition.Reason
	}

	return "no message"
}

// PoolUsesMachineConfig reports whether the pool's current rendered configuration
// (status.configuration.source) includes the MachineConfig named machineConfigName.
func PoolUsesMachineConfig(pool *mcfgv1.MachineConfigPool, machineConfigName string) bool {
	if pool == nil {
		return false
	}
	for _, source := range pool.Status.Configuration.Source {
		if source.Name == machineConfigName {
			return true
		}
	}

	return false
}

// AnnotationMachineConfigNameSuffix is the annotation in which the machine-config operator
// records the suffix of the MachineConfig it generated from a KubeletConfig.
const AnnotationMachineConfigNameSuffix = "machineconfiguration.openshift.io/mc-name-suffix"

// GeneratedMachineConfigName returns the name of the MachineConfig that the machine-config
// operator renders from config for the pool named poolName: 99-<pool>-generated-kubelet for the
// first KubeletConfig of a pool and 99-<pool>-generated-kubelet-<N> (N from 1 to 9) for the
// others, with N from the AnnotationMachineConfigNameSuffix annotation.
func GeneratedMachineConfigName(config *mcfgv1.KubeletConfig, poolName string) string {
	name := "99-" + poolName + "-generated-kubelet"
	if config == nil {
		return name
	}
	if suffix := config.Annotations[AnnotationMachineConfigNameSuffix]; suffix != "" {
		name += "-" + suffix
	}

	return name
}
