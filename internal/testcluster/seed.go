package testcluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	configv1 "github.com/openshift/api/config/v1"
	mcfgv1 "github.com/openshift/api/machineconfiguration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
)

// OpenShift namespaces that SeedOpenShift creates.
const (
	NamespaceOpenShiftConfig        = "openshift-config"
	NamespaceOpenShiftConfigManaged = "openshift-config-managed"
	NamespaceMachineConfigOperator  = "openshift-machine-config-operator"
)

// DemoNamespace is an application namespace that SeedDemo creates. Its default
// ServiceAccount carries an OpenShift dockercfg pull secret.
const DemoNamespace = "imagedist-demo"

// GlobalPullSecretName is the cluster-wide pull secret in the openshift-config namespace.
const GlobalPullSecretName = "pull-secret"

// internalRegistryHost is the in-cluster address of the OpenShift image registry.
const internalRegistryHost = "image-registry.openshift-image-registry.svc:5000"

var (
	imageConfigResource = schema.GroupVersionResource{
		Group: "config.openshift.io", Version: "v1", Resource: "images",
	}
	machineConfigPoolResource = schema.GroupVersionResource{
		Group: "machineconfiguration.openshift.io", Version: "v1", Resource: "machineconfigpools",
	}
)

// CreateNamespace creates a namespace with the given labels. An existing namespace is left
// as it is.
func CreateNamespace(ctx context.Context, client kubernetes.Interface, name string,
	labels map[string]string) error {
	namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	_, err := client.CoreV1().Namespaces().Create(ctx, namespace, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// WaitForServiceAccount waits until a ServiceAccount exists, such as the default one that
// kube-controller-manager creates in each new namespace. The API server rejects pods whose
// ServiceAccount does not exist yet.
func WaitForServiceAccount(ctx context.Context, client kubernetes.Interface,
	namespace, name string) error {
	err := wait.PollUntilContextCancel(ctx, pollInterval, true,
		func(ctx context.Context) (bool, error) {
			_, err := client.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return err == nil, err
		})
	if err != nil {
		return fmt.Errorf("waiting for ServiceAccount %s/%s: %w", namespace, name, err)
	}
	return nil
}

// AddOpenShiftDockercfg gives a ServiceAccount the pull secret that OpenShift's
// service-account controllers add for the internal image registry: a kubernetes.io/dockercfg
// Secret named <serviceaccount>-dockercfg-<5 random characters>, listed in the
// ServiceAccount's imagePullSecrets. It creates the ServiceAccount when missing and returns
// it. A ServiceAccount that already lists such a secret is returned unchanged.
//
// The Secret holds a made-up token. Nothing in this cluster checks it.
func AddOpenShiftDockercfg(ctx context.Context, client kubernetes.Interface,
	namespace, name string) (*corev1.ServiceAccount, error) {
	accounts := client.CoreV1().ServiceAccounts(namespace)
	account, err := accounts.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		account, err = accounts.Create(ctx, &corev1.ServiceAccount{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			account, err = accounts.Get(ctx, name, metav1.GetOptions{})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("reading ServiceAccount %s/%s: %w", namespace, name, err)
	}

	prefix := name + "-dockercfg-"
	for _, reference := range account.ImagePullSecrets {
		if strings.HasPrefix(reference.Name, prefix) {
			return account, nil
		}
	}

	secretName := prefix + utilrand.String(5)
	if err := createDockercfgSecret(ctx, client, account, secretName); err != nil {
		return nil, err
	}

	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		latest, err := accounts.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		latest.ImagePullSecrets = append(latest.ImagePullSecrets,
			corev1.LocalObjectReference{Name: secretName})
		account, err = accounts.Update(ctx, latest, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("adding %s to ServiceAccount %s/%s: %w", secretName, namespace,
			name, err)
	}
	return account, nil
}

func createDockercfgSecret(ctx context.Context, client kubernetes.Interface,
	account *corev1.ServiceAccount, secretName string) error {
	token := "fake-token-" + utilrand.String(32)
	entry := map[string]string{
		"username": "serviceaccount",
		"password": token,
		"email":    "serviceaccount@example.org",
		"auth":     base64.StdEncoding.EncodeToString([]byte("serviceaccount:" + token)),
	}
	dockercfg, err := json.Marshal(map[string]map[string]string{
		internalRegistryHost: entry,
		"image-registry.openshift-image-registry.svc.cluster.local:5000": entry,
	})
	if err != nil {
		return fmt.Errorf("encoding the dockercfg of %s: %w", secretName, err)
	}

	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      secretName,
			Namespace: account.Namespace,
			Annotations: map[string]string{
				corev1.ServiceAccountNameKey: account.Name,
				corev1.ServiceAccountUIDKey:  string(account.UID),
			},
		},
		Type: corev1.SecretTypeDockercfg,
		Data: map[string][]byte{corev1.DockerConfigKey: dockercfg},
	}
	_, err = client.CoreV1().Secrets(account.Namespace).Create(ctx, secret, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating Secret %s/%s: %w", account.Namespace, secretName, err)
	}
	return nil
}

// SeedOpenShift creates objects that every OpenShift cluster has and the provider reads or
// edits. They are the openshift-config namespaces, the global pull secret with made-up
// credentials for the Red Hat registries, the cluster image configuration, and the master
// and worker machine-config pools in the state of a finished rollout. Install the CRDs
// first. Objects that exist are left as they are.
func SeedOpenShift(ctx context.Context, config *rest.Config) error {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return fmt.Errorf("building a client: %w", err)
	}
	dynamicClient, err := dynamic.NewForConfig(config)
	if err != nil {
		return fmt.Errorf("building a dynamic client: %w", err)
	}

	namespaces := []string{
		NamespaceOpenShiftConfig, NamespaceOpenShiftConfigManaged, NamespaceMachineConfigOperator,
	}
	for _, namespace := range namespaces {
		if err := CreateNamespace(ctx, client, namespace, nil); err != nil {
			return err
		}
	}

	if err := createGlobalPullSecret(ctx, client); err != nil {
		return err
	}
	if err := createImageConfig(ctx, dynamicClient); err != nil {
		return err
	}
	for _, role := range []string{"master", "worker"} {
		if err := createMachineConfigPool(ctx, client, dynamicClient, role); err != nil {
			return err
		}
	}
	return nil
}

func createGlobalPullSecret(ctx context.Context, client kubernetes.Interface) error {
	// The installer writes auth and email only, without username and password fields.
	auths := map[string]map[string]string{}
	for _, registry := range []string{
		"cloud.openshift.com", "quay.io", "registry.connect.redhat.com", "registry.redhat.io",
	} {
		credentials := "imagedist-demo:fake-" + hexDigest("pull-secret/" + registry)[:40]
		auths[registry] = map[string]string{
			"auth":  base64.StdEncoding.EncodeToString([]byte(credentials)),
			"email": "imagedist-demo@example.org",
		}
	}
	data, err := json.Marshal(map[string]any{"auths": auths})
	if err != nil {
		return fmt.Errorf("encoding the global pull secret: %w", err)
	}

	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      GlobalPullSecretName,
			Namespace: NamespaceOpenShiftConfig,
		},
		Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: data},
	}
	_, err = client.CoreV1().Secrets(NamespaceOpenShiftConfig).
		Create(ctx, secret, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating Secret %s/%s: %w", NamespaceOpenShiftConfig,
			GlobalPullSecretName, err)
	}
	return nil
}

func createImageConfig(ctx context.Context, client dynamic.Interface) error {
	// The typed Image would add empty registrySources and additionalTrustedCA fields, which a
	// new cluster's spec does not have.
	image := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "config.openshift.io/v1",
		"kind":       "Image",
		"metadata":   map[string]any{"name": "cluster"},
		"spec":       map[string]any{},
	}}
	status := configv1.ImageStatus{InternalRegistryHostname: internalRegistryHost}

	return createWithStatus(ctx, client.Resource(imageConfigResource), image, func(
		object *unstructured.Unstructured) error {
		return setStatus(object, &status)
	})
}

func createMachineConfigPool(ctx context.Context, client kubernetes.Interface,
	dynamicClient dynamic.Interface, role string) error {
	nodeSelector := &metav1.LabelSelector{
		MatchLabels: map[string]string{"node-role.kubernetes.io/" + role: ""},
	}
	selector, err := metav1.LabelSelectorAsSelector(nodeSelector)
	if err != nil {
		return fmt.Errorf("building the node selector of pool %s: %w", role, err)
	}
	machines, err := countNodes(ctx, client, selector)
	if err != nil {
		return err
	}

	rendered := corev1.ObjectReference{
		Kind: "MachineConfig",
		Name: "rendered-" + role + "-" + hexDigest("rendered/" + role)[:32],
	}
	pool := &mcfgv1.MachineConfigPool{
		TypeMeta: metav1.TypeMeta{
			APIVersion: "machineconfiguration.openshift.io/v1", Kind: "MachineConfigPool",
		},
		ObjectMeta: metav1.ObjectMeta{
			Name: role,
			Labels: map[string]string{
				"machineconfiguration.openshift.io/mco-built-in":           "",
				"pools.operator.machineconfiguration.openshift.io/" + role: "",
			},
		},
		Spec: mcfgv1.MachineConfigPoolSpec{
			MachineConfigSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"machineconfiguration.openshift.io/role": role},
			},
			NodeSelector:  nodeSelector,
			Configuration: mcfgv1.MachineConfigPoolStatusConfiguration{ObjectReference: rendered},
		},
	}

	return createWithStatus(ctx, dynamicClient.Resource(machineConfigPoolResource), pool,
		func(object *unstructured.Unstructured) error {
			status := PoolStatus(object.GetGeneration(), machines, false,
				pool.Spec.Configuration)
			return setStatus(object, &status)
		})
}

func countNodes(ctx context.Context, client kubernetes.Interface,
	selector labels.Selector) (int32, error) {
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{
		LabelSelector: selector.String(),
	})
	if err != nil {
		return 0, fmt.Errorf("listing nodes matching %s: %w", selector, err)
	}
	return int32(len(nodes.Items)), nil
}

// createWithStatus creates object through resource and then writes its status through the
// status subresource, which ignores the status in a create. It leaves an existing object as
// it is.
func createWithStatus(ctx context.Context, resource dynamic.ResourceInterface,
	object runtime.Object, addStatus func(*unstructured.Unstructured) error) error {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(object)
	if err != nil {
		return fmt.Errorf("converting %T: %w", object, err)
	}
	desired := &unstructured.Unstructured{Object: content}
	unstructured.RemoveNestedField(desired.Object, "status")

	created, err := resource.Create(ctx, desired, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating %s %s: %w", desired.GetKind(), desired.GetName(), err)
	}

	if err := addStatus(created); err != nil {
		return err
	}
	if _, err := resource.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating the status of %s %s: %w", desired.GetKind(),
			desired.GetName(), err)
	}
	return nil
}

// setStatus stores status, a pointer to a typed status struct, in object.
func setStatus(object *unstructured.Unstructured, status any) error {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(status)
	if err != nil {
		return fmt.Errorf("converting the status of %s: %w", object.GetName(), err)
	}
	return unstructured.SetNestedField(object.Object, content, "status")
}

// SeedDemo seeds what RunTests and the devcluster command provide: the nodes of DemoNodes,
// the OpenShift objects of SeedOpenShift, and the namespace DemoNamespace whose default,
// builder and deployer ServiceAccounts carry an OpenShift dockercfg pull secret. The default ServiceAccount
// appears only when kube-controller-manager runs.
func SeedDemo(ctx context.Context, config *rest.Config) error {
	return SeedDemoNodes(ctx, config, DemoNodes())
}

// SeedDemoNodes seeds what SeedDemo does, with nodes in place of DemoNodes, such as the
// demo nodes that StartKubeletSummaries returned with their kubelet ports.
func SeedDemoNodes(ctx context.Context, config *rest.Config, nodes []Node) error {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return fmt.Errorf("building a client: %w", err)
	}

	if err := SeedNodes(ctx, client, nodes); err != nil {
		return err
	}
	// Pools count the nodes they select, so they come after the nodes.
	if err := SeedOpenShift(ctx, config); err != nil {
		return err
	}
	if err := CreateNamespace(ctx, client, DemoNamespace, nil); err != nil {
		return err
	}
	if err := WaitForServiceAccount(ctx, client, DemoNamespace, "default"); err != nil {
		return err
	}
	// OpenShift creates these three accounts in every namespace, each with its own dockercfg
	// pull secret for the internal registry.
	for _, account := range []string{"default", "builder", "deployer"} {
		if _, err := AddOpenShiftDockercfg(ctx, client, DemoNamespace, account); err != nil {
			return err
		}
	}
	return nil
}
