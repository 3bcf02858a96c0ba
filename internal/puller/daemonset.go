package puller

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Names, paths and labels of the rendered DaemonSet.
const (
	// ContainerSleeper is the init container that copies the sleep binary into SleeperDir.
	ContainerSleeper = "imagedist-sleeper"
	// ContainerWait is the only regular container when KeepCached is false.
	ContainerWait = "imagedist-wait"
	// DefaultHelperImage provides the sleep binary. The binary runs inside the cached images,
	// and scratch and static distroless images have no C library, so it must be statically
	// linked. The official busybox image (docker-library/busybox) links busybox statically in
	// its musl and uclibc variants but dynamically in its glibc variant, and its unsuffixed
	// tags have pointed to the glibc variant on ppc64le and s390x. The musl variant is static
	// on every architecture it ships for.
	DefaultHelperImage = "docker.io/library/busybox:1.37.0-musl"
	// SleeperDir is the mount path of the emptyDir volume that carries the sleep binary.
	SleeperDir = "/imagedist"
	// SleeperPath is where ContainerSleeper copies the sleep binary.
	SleeperPath = "/imagedist/sleep"
	// SleepDuration is the argument of the sleep binary in the containers that keep running.
	// When it runs out, the container exits and the kubelet restarts it.
	SleepDuration = "720h"
	// LabelName has the value "imagedist-image-puller".
	LabelName = "app.kubernetes.io/name"
	// LabelInstance has Spec.Name as its value.
	LabelInstance = "app.kubernetes.io/instance"
	// LabelManagedBy has the value "terraform-provider-imagedist".
	LabelManagedBy = "app.kubernetes.io/managed-by"
)

const (
	nameLabelValue      = "imagedist-image-puller"
	managedByLabelValue = "terraform-provider-imagedist"
	sleeperVolume       = "imagedist"
	// sleeperVolumeLimit leaves room for a multi-call binary such as busybox, whose
	// /bin/sleep is the whole program rather than a small sleep binary.
	sleeperVolumeLimit    = "16Mi"
	defaultMaxUnavailable = "25%"
	revisionHistoryLimit  = 2
	// terminationGracePeriod is short because the containers only sleep and hold no state.
	terminationGracePeriod = 1
)

// Spec is the input of DaemonSet.
type Spec struct {
	Name      string
	Namespace string
	// Images are the images to cache, as Images returns them.
	Images []Image
	// KeepCached runs one sleeping container per image, so the kubelet's image garbage
	// collection treats every image as in use. When false, the images are pulled by init
	// containers that exit at once, and garbage collection may remove them later.
	KeepCached bool
	// HelperImage provides /bin/sleep and cp. Empty means DefaultHelperImage.
	HelperImage       string
	NodeSelector      map[string]string
	Tolerations       []corev1.Toleration
	Affinity          *corev1.Affinity
	ImagePullSecrets  []string
	Resources         corev1.ResourceRequirements
	PriorityClassName string
	// MaxUnavailable bounds the rolling update. The zero value means "25%".
	MaxUnavailable intstr.IntOrString
	// Labels are extra labels on the DaemonSet, not on its pods. The app.kubernetes.io
	// labels that the package sets win over them.
	Labels map[string]string
}

// DaemonSet renders the DaemonSet for spec. The same spec always gives the same object, and
// the object shares no memory with spec.
//
// Every container runs the sleep binary that ContainerSleeper copies from the helper image,
// so nothing in the cached images is executed. All containers, including the helper's, get
// spec.Resources, because a ResourceQuota on limits rejects a pod in which any container has
// none. The pods meet the restricted Pod Security Standard except for runAsNonRoot, which is
// left unset because OpenShift's restricted-v2 SCC assigns the user.
func DaemonSet(spec Spec) *appsv1.DaemonSet {
	helperImage := spec.HelperImage
	if helperImage == "" {
		helperImage = DefaultHelperImage
	}

	maxUnavailable := spec.MaxUnavailable
	if maxUnavailable == (intstr.IntOrString{}) {
		maxUnavailable = intstr.FromString(defaultMaxUnavailable)
	}

	return &appsv1.DaemonSet{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      spec.Name,
			Namespace: spec.Namespace,
			Labels:    daemonSetLabels(spec),
		},
		Spec: appsv1.DaemonSetSpec{
			// The selector is immutable, so it holds only labels that never change.
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{
				LabelName:     nameLabelValue,
				LabelInstance: spec.Name,
			}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels(spec.Name)},
				Spec:       podSpec(spec, helperImage),
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{
				Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{
					MaxUnavailable: &maxUnavailable,
				},
			},
			RevisionHistoryLimit: ptr.To[int32](revisionHistoryLimit),
		},
	}
}

func podLabels(name string) map[string]string {
	return map[string]string{
		LabelName:      nameLabelValue,
		LabelInstance:  name,
		LabelManagedBy: managedByLabelValue,
	}
}

func daemonSetLabels(spec Spec) map[string]string {
	labels := make(map[string]string, len(spec.Labels)+3)
	for key, value := range spec.Labels {
		labels[key] = value
	}
	for key, value := range podLabels(spec.Name) {
		labels[key] = value
	}
	return labels
}

func podSpec(spec Spec, helperImage string) corev1.PodSpec {
	sleeper := corev1.Container{
		Name:    ContainerSleeper,
		Image:   helperImage,
		Command: []string{"cp", "/bin/sleep", SleeperPath},
		// The copy is the only container that writes to the volume.
		VolumeMounts: []corev1.VolumeMount{{Name: sleeperVolume, MountPath: SleeperDir}},
	}
	setCommon(&sleeper, spec)

	initContainers := []corev1.Container{sleeper}
	var containers []corev1.Container
	if spec.KeepCached {
		for _, image := range spec.Images {
			containers = append(containers, sleepingContainer(spec, image.Container,
				image.Reference, SleepDuration))
		}
	} else {
		// "0" makes each init container exit as soon as its image is pulled and started.
		for _, image := range spec.Images {
			initContainers = append(initContainers, sleepingContainer(spec, image.Container,
				image.Reference, "0"))
		}
		containers = []corev1.Container{
			sleepingContainer(spec, ContainerWait, helperImage, SleepDuration),
		}
	}

	pod := corev1.PodSpec{
		InitContainers:                initContainers,
		Containers:                    containers,
		Volumes:                       []corev1.Volume{sleeperVolumeSource()},
		RestartPolicy:                 corev1.RestartPolicyAlways,
		TerminationGracePeriodSeconds: ptr.To[int64](terminationGracePeriod),
		AutomountServiceAccountToken:  ptr.To(false),
		EnableServiceLinks:            ptr.To(false),
		PriorityClassName:             spec.PriorityClassName,
		SecurityContext: &corev1.PodSecurityContext{
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}

	if len(spec.NodeSelector) > 0 {
		pod.NodeSelector = make(map[string]string, len(spec.NodeSelector))
		for key, value := range spec.NodeSelector {
			pod.NodeSelector[key] = value
		}
	}
	for _, toleration := range spec.Tolerations {
		pod.Tolerations = append(pod.Tolerations, *toleration.DeepCopy())
	}
	pod.Affinity = spec.Affinity.DeepCopy()
	for _, name := range spec.ImagePullSecrets {
		pod.ImagePullSecrets = append(pod.ImagePullSecrets, corev1.LocalObjectReference{Name: name})
	}
	return pod
}

// sleepingContainer returns a container that runs the copied sleep binary with argument
// duration in image.
func sleepingContainer(spec Spec, name, image, duration string) corev1.Container {
	container := corev1.Container{
		Name:    name,
		Image:   image,
		Command: []string{SleeperPath},
		Args:    []string{duration},
		VolumeMounts: []corev1.VolumeMount{
			{Name: sleeperVolume, MountPath: SleeperDir, ReadOnly: true},
		},
	}
	setCommon(&container, spec)
	return container
}

// setCommon sets the pull policy, resources and security context that every container of the
// pod shares.
func setCommon(container *corev1.Container, spec Spec) {
	// IfNotPresent keeps a rollout from pulling the unchanged images again. It is set even
	// where the API server would default it, because that default is Always for the tag
	// "latest", and a server-side default would show as a difference on the next plan.
	container.ImagePullPolicy = corev1.PullIfNotPresent
	container.Resources = *spec.Resources.DeepCopy()
	container.SecurityContext = &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		Capabilities: &corev1.Capabilities{
			Drop: []corev1.Capability{"ALL"},
		},
		ReadOnlyRootFilesystem: ptr.To(true),
	}
}

func sleeperVolumeSource() corev1.Volume {
	limit := resource.MustParse(sleeperVolumeLimit)
	return corev1.Volume{
		Name: sleeperVolume,
		VolumeSource: corev1.VolumeSource{
			EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &limit},
		},
	}
}
