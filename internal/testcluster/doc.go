// Package testcluster runs a local Kubernetes control plane (etcd, kube-apiserver and
// kube-controller-manager) on loopback for acceptance tests and the demo. It seeds the
// cluster so that it looks like OpenShift to the provider: the OpenShift CRDs, worker nodes
// whose status lists cached images, and the configuration objects the provider manages.
//
// There are no kubelets, no scheduler and no machine-config operator. Nodes are API objects
// only, DaemonSet pods stay unbound until test code binds them, and machine-config pools
// change status only when test code writes it. Kubelets plays the kubelets in tests: it binds
// DaemonSet pods and writes pod and node status as if their images were pulled.
//
// Only tests and the demo import this package; provider code never does.
package testcluster
