package testcluster

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Environment variables that RunTests reads and sets. KUBE_CONFIG_PATH and KUBE_CTX are the
// ones the provider reads for config_path and config_context.
const (
	EnvAcceptance  = "TF_ACC"
	EnvKubeconfig  = "KUBE_CONFIG_PATH"
	EnvKubeContext = "KUBE_CTX"
)

// seedTimeout bounds SeedDemo in RunTests, and the creation of the least-privilege identity.
const seedTimeout = 2 * time.Minute

// shared is the cluster that RunTests started, if any.
var shared *Cluster

// Shared returns the cluster that RunTests started for this test binary, or nil when the
// tests run against a cluster named by KUBE_CONFIG_PATH or without TF_ACC.
func Shared() *Cluster {
	return shared
}

// runner is the part of testing.M that RunTests uses.
type runner interface {
	Run() int
}

// RunTests runs a package's tests from its TestMain and returns the exit code:
//
//	func TestMain(m *testing.M) { os.Exit(testcluster.RunTests(m)) }
//
// With TF_ACC set and KUBE_CONFIG_PATH unset, it starts one cluster for the package, seeds
// it with SeedDemo, points KUBE_CONFIG_PATH and KUBE_CTX at it for the provider under test,
// runs the tests and stops the cluster. Otherwise it only runs the tests: unit tests need no
// cluster, and a KUBE_CONFIG_PATH set by the caller names the cluster to test against.
//
// With IMAGEDIST_ACC_IDENTITY=least-privilege as well, the provider runs as a service account
// bound only to the ClusterRoles and Roles in examples/rbac, so the suite tests the shipped
// files. KUBE_CONFIG_PATH and KUBE_CTX then name that account's kubeconfig, and
// IMAGEDIST_ACC_ADMIN_KUBECONFIG names the admin one for RESTConfigFromEnv.
func RunTests(m *testing.M) int {
	return runTests(m, Options{Logf: stderrLogf})
}

func runTests(m runner, options Options) int {
	identity := os.Getenv(EnvIdentity)
	if identity != "" && identity != IdentityLeastPrivilege {
		fmt.Fprintf(os.Stderr, "testcluster: invalid %s %q, expected empty or %q\n",
			EnvIdentity, identity, IdentityLeastPrivilege)
		return 2
	}
	if os.Getenv(EnvAcceptance) == "" {
		return m.Run()
	}
	if os.Getenv(EnvAdminKubeconfig) != "" {
		// RESTConfigFromEnv prefers it, so test checks would act on the cluster that it
		// names, whichever cluster the provider under test uses.
		fmt.Fprintf(os.Stderr, "testcluster: %s is set, but only the least-privilege mode "+
			"of RunTests may set it. Unset it.\n", EnvAdminKubeconfig)
		return 2
	}
	if os.Getenv(EnvKubeconfig) != "" {
		if identity != "" {
			// The mode creates cluster-wide roles and bindings, which it does only on the
			// cluster it starts itself.
			fmt.Fprintf(os.Stderr, "testcluster: %s=%s works only on the local control "+
				"plane. Unset %s to start one.\n", EnvIdentity, identity, EnvKubeconfig)
			return 2
		}
		return m.Run()
	}

	cluster, err := Start(context.Background(), options)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testcluster: starting the control plane failed: %v\n", err)
		return 1
	}
	defer cluster.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), seedTimeout)
	err = SeedDemo(ctx, cluster.config)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testcluster: seeding the control plane failed: %v\n", err)
		return 1
	}

	environment := map[string]string{
		EnvKubeconfig:  cluster.KubeconfigPath,
		EnvKubeContext: ContextName,
	}
	if identity == IdentityLeastPrivilege {
		ctx, cancel := context.WithTimeout(context.Background(), seedTimeout)
		kubeconfig, err := setUpLeastPrivilege(ctx, cluster)
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "testcluster: creating the least-privilege identity "+
				"failed: %v\n", err)
			return 1
		}
		environment = map[string]string{
			EnvKubeconfig:      kubeconfig,
			EnvKubeContext:     LeastPrivilegeContext,
			EnvAdminKubeconfig: cluster.KubeconfigPath,
		}
		if options.Logf != nil {
			options.Logf("testcluster: the provider runs as ServiceAccount %s/%s",
				LeastPrivilegeNamespace, LeastPrivilegeServiceAccount)
		}
	}
	restore := setEnvironment(environment)
	defer restore()

	shared = cluster
	defer func() { shared = nil }()
	return m.Run()
}

// setEnvironment sets variables and returns a function that restores their old values.
func setEnvironment(variables map[string]string) (restore func()) {
	type previous struct {
		value string
		set   bool
	}
	saved := map[string]previous{}
	for name, value := range variables {
		old, set := os.LookupEnv(name)
		saved[name] = previous{old, set}
		os.Setenv(name, value)
	}

	return func() {
		for name, old := range saved {
			if old.set {
				os.Setenv(name, old.value)
			} else {
				os.Unsetenv(name)
			}
		}
	}
}

func stderrLogf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// RESTConfigFromEnv returns a client configuration for the cluster that the provider under
// test uses: the kubeconfig in IMAGEDIST_ACC_ADMIN_KUBECONFIG with its current context when
// set, so that checks act as admin in the least-privilege mode, and otherwise the kubeconfig
// in KUBE_CONFIG_PATH, with the context in KUBE_CTX when set.
func RESTConfigFromEnv() (*rest.Config, error) {
	if admin := os.Getenv(EnvAdminKubeconfig); admin != "" {
		config, err := clientcmd.BuildConfigFromFlags("", admin)
		if err != nil {
			return nil, fmt.Errorf("loading the kubeconfig from %s: %w", EnvAdminKubeconfig, err)
		}
		config.QPS, config.Burst = 100, 200
		return config, nil
	}
	return ProviderRESTConfigFromEnv()
}

// ProviderRESTConfigFromEnv returns the client configuration of the provider under test: the
// kubeconfig in KUBE_CONFIG_PATH, with the context in KUBE_CTX when set. In the
// least-privilege mode it authenticates as the service account, so a proxy placed between the
// provider and the API server keeps the provider's identity with it.
func ProviderRESTConfigFromEnv() (*rest.Config, error) {
	path := os.Getenv(EnvKubeconfig)
	if path == "" {
		return nil, fmt.Errorf("%s is not set; run acceptance tests with %s=1 so that "+
			"RunTests starts a cluster, or point %s at a kubeconfig", EnvKubeconfig,
			EnvAcceptance, EnvKubeconfig)
	}

	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: path}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: os.Getenv(EnvKubeContext)}
	config, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).
		ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig from %s: %w", EnvKubeconfig, err)
	}
	// Checks that poll many objects would otherwise wait on client-go's default limit of 5
	// requests per second.
	config.QPS, config.Burst = 100, 200
	return config, nil
}

// ClientFromEnv returns a clientset from RESTConfigFromEnv, for CheckDestroy functions and
// other checks that ask the API directly.
func ClientFromEnv() (kubernetes.Interface, error) {
	config, err := RESTConfigFromEnv()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(config)
}

// DynamicClientFromEnv returns a dynamic client from RESTConfigFromEnv, for the OpenShift and
// other custom kinds.
func DynamicClientFromEnv() (dynamic.Interface, error) {
	config, err := RESTConfigFromEnv()
	if err != nil {
		return nil, err
	}
	return dynamic.NewForConfig(config)
}
