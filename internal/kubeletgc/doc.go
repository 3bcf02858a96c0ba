// Package kubeletgc holds the rules behind the imagedist_kubelet_image_gc resource: it checks
// kubelet image garbage collection settings as the kubelet would, renders them into the
// spec.kubeletConfig of an OpenShift KubeletConfig (machineconfiguration.openshift.io/v1) and
// reads them back, and interprets KubeletConfig and MachineConfigPool status.
//
// The checks matter because nothing else makes them before a node restarts: the KubeletConfig
// CRD stores spec.kubeletConfig without schema validation, and the machine-config operator does
// not check the image GC fields. A value the kubelet rejects (low threshold equal to the high
// threshold, for example) stops the kubelet on every node of the pool after the reboot.
//
// The package imports no Terraform module, so it is tested without Terraform or a cluster.
package kubeletgc
