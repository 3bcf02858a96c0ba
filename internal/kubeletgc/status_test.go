package kubeletgc

import (
	"strings"
	"testing"

	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func kubeletCondition(
	conditionType string, status corev1.ConditionStatus, message string,
) mcfgv1.KubeletConfigCondition {
	return mcfgv1.KubeletConfigCondition{
		Type:    mcfgv1.KubeletConfigStatusConditionType(conditionType),
		Status:  status,
		Message: message,
	}
}

const noMatchMessage = "Error: could not find any MachineConfigPool set for KubeletConfig gc"

func TestVerdict(t *testing.T) {
	tests := []struct {
		name       string
		conditions []mcfgv1.KubeletConfigCondition
		state      ConfigState
		message    string
	}{
		{
			name:    "no conditions",
			state:   ConfigPending,
			message: "not reported a condition yet",
		},
		{
			name: "4.16-4.21 success",
			conditions: []mcfgv1.KubeletConfigCondition{
				kubeletCondition("Success", corev1.ConditionTrue, "Success"),
			},
			state:   ConfigAccepted,
			message: "Success",
		},
		{
			name: "4.16-4.21 failure has status False",
			conditions: []mcfgv1.KubeletConfigCondition{
				kubeletCondition("Failure", corev1.ConditionFalse, noMatchMessage),
			},
			state:   ConfigFailed,
			message: noMatchMessage,
		},
		{
			name: "4.16-4.21 failure after earlier success",
			conditions: []mcfgv1.KubeletConfigCondition{
				kubeletCondition("Success", corev1.ConditionTrue, "Success"),
				kubeletCondition("Success", corev1.ConditionTrue, "Success"),
				kubeletCondition("Failure", corev1.ConditionFalse, noMatchMessage),
			},
			state:   ConfigFailed,
			message: noMatchMessage,
		},
		{
			name: "4.16-4.21 success after earlier failure",
			conditions: []mcfgv1.KubeletConfigCondition{
				kubeletCondition("Failure", corev1.ConditionFalse, noMatchMessage),
				kubeletCondition("Success", corev1.ConditionTrue, "Success"),
			},
			state:   ConfigAccepted,
			message: "Success",
		},
		{
			name: "4.22 failure has status True",
			conditions: []mcfgv1.KubeletConfigCondition{
				kubeletCondition("Success", corev1.ConditionTrue, "Success"),
				kubeletCondition("Failure", corev1.ConditionTrue, noMatchMessage),
			},
			state:   ConfigFailed,
			message: noMatchMessage,
		},
		{
			name: "4.22 success",
			conditions: []mcfgv1.KubeletConfigCondition{
				kubeletCondition("Failure", corev1.ConditionTrue, noMatchMessage),
				kubeletCondition("Success", corev1.ConditionTrue, "Success"),
			},
			state:   ConfigAccepted,
			message: "Success",
		},
		{
			// 4.23 appends Accepted and then the legacy entry, so the legacy entry is last.
			name: "4.23 success ends with legacy Success",
			conditions: []mcfgv1.KubeletConfigCondition{
				kubeletCondition("Success", corev1.ConditionTrue, "Success"),
				kubeletCondition("Accepted", corev1.ConditionTrue, "KubeletConfig rendered"),
				kubeletCondition("Success", corev1.ConditionTrue, "Success"),
			},
			state:   ConfigAccepted,
			message: "Success",
		},
		{
			name: "4.23 failure ends with legacy Failure True",
			conditions: []mcfgv1.KubeletConfigCondition{
				kubeletCondition("Success", corev1.ConditionTrue, "Success"),
				kubeletCondition("Accepted", corev1.ConditionFalse, noMatchMessage),
				kubeletCondition("Failure", corev1.ConditionTrue, noMatchMessage),
			},
			state:   ConfigFailed,
			message: noMatchMessage,
		},
		{
			// The three-entry limit can leave Accepted last while the legacy entry is written.
			name: "4.23 Accepted True last",
			conditions: []mcfgv1.KubeletConfigCondition{
				kubeletCondition("Failure", corev1.ConditionTrue, noMatchMessage),
				kubeletCondition("Accepted", corev1.ConditionTrue, "rendered"),
			},
			state:   ConfigAccepted,
			message: "rendered",
		},
		{
			name: "4.23 Accepted False last",
			conditions: []mcfgv1.KubeletConfigCondition{
				kubeletCondition("Success", corev1.ConditionTrue, "Success"),
				kubeletCondition("Accepted", corev1.ConditionFalse, noMatchMessage),
			},
			state:   ConfigFailed,
			message: noMatchMessage,
		},
		{
			name: "Accepted Unknown is pending",
			conditions: []mcfgv1.KubeletConfigCondition{
				kubeletCondition("Success", corev1.ConditionTrue, "Success"),
				kubeletCondition("Accepted", corev1.ConditionUnknown, "rendering"),
			},
			state:   ConfigPending,
			message: `type "Accepted" with status "Unknown"`,
		},
		{
			name: "unknown type is pending",
			conditions: []mcfgv1.KubeletConfigCondition{
				kubeletCondition("Success", corev1.ConditionTrue, "Success"),
				kubeletCondition("Progressing", corev1.ConditionTrue, "working"),
			},
			state:   ConfigPending,
			message: `type "Progressing"`,
		},
		{
			name: "failure without message uses reason",
			conditions: []mcfgv1.KubeletConfigCondition{
				{Type: mcfgv1.KubeletConfigFailure, Status: corev1.ConditionTrue, Reason: "NoPool"},
			},
			state:   ConfigFailed,
			message: "NoPool",
		},
		{
			name: "failure without message or reason",
			conditions: []mcfgv1.KubeletConfigCondition{
				kubeletCondition("Failure", corev1.ConditionFalse, ""),
			},
			state:   ConfigFailed,
			message: "condition Failure with status \"False\" and no message",
		},
	}

	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			state, message := Verdict(test.conditions)

			if state != test.state {
				t.Errorf("state = %q, want %q (message %q)", state, test.state, message)
			}
			if !strings.Contains(message, test.message) {
				t.Errorf("message = %q, want it to contain %q", message, test.message)
			}
		})
	}
}

func newPoolCondition(
	conditionType mcfgv1.MachineConfigPoolConditionType, status corev1.ConditionStatus,
	message string,
) mcfgv1.MachineConfigPoolCondition {
	return mcfgv1.MachineConfigPoolCondition{Type: conditionType, Status: status, Message: message}
}

// settledPool returns a worker pool of three machines that finished its rollout.
func settledPool() *mcfgv1.MachineConfigPool {
	return &mcfgv1.MachineConfigPool{
		ObjectMeta: metav1.ObjectMeta{Name: "worker", Generation: 4},
		Status: mcfgv1.MachineConfigPoolStatus{
			ObservedGeneration:  4,
			MachineCount:        3,
			UpdatedMachineCount: 3,
			ReadyMachineCount:   3,
			Conditions: []mcfgv1.MachineConfigPoolCondition{
				newPoolCondition(mcfgv1.MachineConfigPoolUpdated, corev1.ConditionTrue, ""),
				newPoolCondition(mcfgv1.MachineConfigPoolUpdating, corev1.ConditionFalse, ""),
				newPoolCondition(mcfgv1.MachineConfigPoolNodeDegraded, corev1.ConditionFalse, ""),
				newPoolCondition(mcfgv1.MachineConfigPoolRenderDegraded, corev1.ConditionFalse, ""),
				newPoolCondition(mcfgv1.MachineConfigPoolDegraded, corev1.ConditionFalse, ""),
			},
		},
	}
}

func setPoolCondition(
	pool *mcfgv1.MachineConfigPool, conditionType mcfgv1.MachineConfigPoolConditionType,
	status corev1.ConditionStatus, message string,
) {
	for i := range pool.Status.Conditions {
		if pool.Status.Conditions[i].Type == conditionType {
			pool.Status.Conditions[i].Status = status
			pool.Status.Conditions[i].Message = message

			return
		}
	}
	pool.Status.Conditions = append(pool.Status.Conditions,
		newPoolCondition(conditionType, status, message))
}

func removePoolCondition(
	pool *mcfgv1.MachineConfigPool, conditionType mcfgv1.MachineConfigPoolConditionType,
) {
	var kept []mcfgv1.MachineConfigPoolCondition
	for _, condition := range pool.Status.Conditions {
		if condition.Type != conditionType {
			kept = append(kept, condition)
		}
	}
	pool.Status.Conditions = kept
}

func TestPoolRollout(t *testing.T) {
	const nodeMessage = "Node worker-1 is reporting: failed to drain node"
	const renderMessage = "Failed to render configuration for pool worker"

	tests := []struct {
		name    string
		change  func(pool *mcfgv1.MachineConfigPool)
		state   RolloutState
		message []string
	}{
		{
			name:    "settled",
			change:  func(*mcfgv1.MachineConfigPool) {},
			state:   RolloutDone,
			message: []string{"worker", "3 of 3 machines updated"},
		},
		{
			name: "generation not observed",
			change: func(pool *mcfgv1.MachineConfigPool) {
				pool.Generation = 5
			},
			state:   RolloutInProgress,
			message: []string{"observed generation 4 of 5", "3 of 3 machines updated"},
		},
		{
			name: "machines still updating",
			change: func(pool *mcfgv1.MachineConfigPool) {
				pool.Status.UpdatedMachineCount = 1
				pool.Status.ReadyMachineCount = 2
				pool.Status.UnavailableMachineCount = 1
				setPoolCondition(pool, mcfgv1.MachineConfigPoolUpdated, corev1.ConditionFalse, "")
				setPoolCondition(pool, mcfgv1.MachineConfigPoolUpdating, corev1.ConditionTrue, "")
			},
			state:   RolloutInProgress,
			message: []string{"1 of 3 machines updated, 2 ready, 1 unavailable"},
		},
		{
			name: "counts equal but Updating True",
			change: func(pool *mcfgv1.MachineConfigPool) {
				setPoolCondition(pool, mcfgv1.MachineConfigPoolUpdating, corev1.ConditionTrue, "")
			},
			state:   RolloutInProgress,
			message: []string{"3 of 3 machines updated"},
		},
		{
			name: "counts equal but Updated False",
			change: func(pool *mcfgv1.MachineConfigPool) {
				setPoolCondition(pool, mcfgv1.MachineConfigPoolUpdated, corev1.ConditionFalse, "")
			},
			state: RolloutInProgress,
		},
		{
			name: "Updated missing",
			change: func(pool *mcfgv1.MachineConfigPool) {
				removePoolCondition(pool, mcfgv1.MachineConfigPoolUpdated)
			},
			state: RolloutInProgress,
		},
		{
			name: "Updating missing",
			change: func(pool *mcfgv1.MachineConfigPool) {
				removePoolCondition(pool, mcfgv1.MachineConfigPoolUpdating)
			},
			state: RolloutInProgress,
		},
		{
			name: "conditions done but a machine not updated",
			change: func(pool *mcfgv1.MachineConfigPool) {
				pool.Status.UpdatedMachineCount = 2
			},
			state:   RolloutInProgress,
			message: []string{"2 of 3 machines updated"},
		},
		{
			name: "paused",
			change: func(pool *mcfgv1.MachineConfigPool) {
				pool.Spec.Paused = true
				pool.Status.UpdatedMachineCount = 0
				setPoolCondition(pool, mcfgv1.MachineConfigPoolUpdated, corev1.ConditionFalse, "")
			},
			state:   RolloutInProgress,
			message: []string{"0 of 3 machines updated", "paused", "spec.paused"},
		},
		{
			name: "degraded",
			change: func(pool *mcfgv1.MachineConfigPool) {
				pool.Status.DegradedMachineCount = 1
				setPoolCondition(pool, mcfgv1.MachineConfigPoolDegraded, corev1.ConditionTrue,
					"1 nodes are reporting degraded status on sync")
			},
			state: RolloutDegraded,
			message: []string{"is Degraded: 1 nodes are reporting degraded status on sync",
				"1 of 3 machines degraded"},
		},
		{
			name: "node degraded wins over degraded",
			change: func(pool *mcfgv1.MachineConfigPool) {
				setPoolCondition(pool, mcfgv1.MachineConfigPoolDegraded, corev1.ConditionTrue,
					"1 nodes are reporting degraded status on sync")
				setPoolCondition(pool, mcfgv1.MachineConfigPoolNodeDegraded,
					corev1.ConditionTrue, nodeMessage)
			},
			state:   RolloutDegraded,
			message: []string{"is NodeDegraded: " + nodeMessage},
		},
		{
			name: "render degraded",
			change: func(pool *mcfgv1.MachineConfigPool) {
				setPoolCondition(pool, mcfgv1.MachineConfigPoolRenderDegraded,
					corev1.ConditionTrue, renderMessage)
			},
			state:   RolloutDegraded,
			message: []string{"is RenderDegraded: " + renderMessage},
		},
		{
			name: "degraded during rollout",
			change: func(pool *mcfgv1.MachineConfigPool) {
				pool.Generation = 6
				pool.Status.UpdatedMachineCount = 1
				setPoolCondition(pool, mcfgv1.MachineConfigPoolNodeDegraded,
					corev1.ConditionTrue, nodeMessage)
			},
			state:   RolloutDegraded,
			message: []string{nodeMessage},
		},
		{
			name: "degraded Unknown is not degraded",
			change: func(pool *mcfgv1.MachineConfigPool) {
				setPoolCondition(pool, mcfgv1.MachineConfigPoolDegraded,
					corev1.ConditionUnknown, "")
			},
			state: RolloutDone,
		},
		{
			name: "degraded without message uses reason",
			change: func(pool *mcfgv1.MachineConfigPool) {
				setPoolCondition(pool, mcfgv1.MachineConfigPoolDegraded, corev1.ConditionTrue, "")
				for i := range pool.Status.Conditions {
					if pool.Status.Conditions[i].Type == mcfgv1.MachineConfigPoolDegraded {
						pool.Status.Conditions[i].Reason = "NodeDegraded"
					}
				}
			},
			state:   RolloutDegraded,
			message: []string{"is Degraded: NodeDegraded"},
		},
	}

	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			pool := settledPool()
			test.change(pool)

			state, message := PoolRollout(pool)

			if state != test.state {
				t.Errorf("state = %q, want %q (message %q)", state, test.state, message)
			}
			for _, fragment := range test.message {
				if !strings.Contains(message, fragment) {
					t.Errorf("message = %q, want it to contain %q", message, fragment)
				}
			}
		})
	}
}

func TestPoolRolloutNilPool(t *testing.T) {
	state, _ := PoolRollout(nil)

	if state != RolloutInProgress {
		t.Errorf("state = %q, want %q", state, RolloutInProgress)
	}
}

func TestPoolUsesMachineConfig(t *testing.T) {
	pool := settledPool()
	pool.Status.Configuration.Source = []corev1.ObjectReference{
		{Name: "00-worker"},
		{Name: "99-worker-generated-kubelet"},
		{Name: "99-worker-generated-kubelet-2"},
	}

	tests := map[string]bool{
		"99-worker-generated-kubelet":   true,
		"99-worker-generated-kubelet-2": true,
		"99-worker-generated-kubelet-1": false,
		"99-master-generated-kubelet":   false,
	}
	for name, want := range tests {
		if got := PoolUsesMachineConfig(pool, name); got != want {
			t.Errorf("PoolUsesMachineConfig(%q) = %v, want %v", name, got, want)
		}
	}
	if PoolUsesMachineConfig(nil, "99-worker-generated-kubelet") {
		t.Error("PoolUsesMachineConfig(nil) = true, want false")
	}
}

func TestGeneratedMachineConfigName(t *testing.T) {
	tests := []struct {
		name        string
		annotations map[string]string
		want        string
	}{
		{"no annotation", nil, "99-worker-generated-kubelet"},
		{"empty suffix", map[string]string{AnnotationMachineConfigNameSuffix: ""},
			"99-worker-generated-kubelet"},
		{"suffix 1", map[string]string{AnnotationMachineConfigNameSuffix: "1"},
			"99-worker-generated-kubelet-1"},
		{"suffix 9", map[string]string{AnnotationMachineConfigNameSuffix: "9"},
			"99-worker-generated-kubelet-9"},
	}

	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			config := &mcfgv1.KubeletConfig{
				ObjectMeta: metav1.ObjectMeta{Name: "gc", Annotations: test.annotations},
			}

			if got := GeneratedMachineConfigName(config, "worker"); got != test.want {
				t.Errorf("GeneratedMachineConfigName() = %q, want %q", got, test.want)
			}
		})
	}
}
