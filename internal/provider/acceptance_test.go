package provider

import (
	"os"
	"testing"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

// requireAcceptance skips the test unless TF_ACC is set, because it needs the local control
// plane that TestMain starts then.
func requireAcceptance(t *testing.T) {
	t.Helper()
	if os.Getenv(testcluster.EnvAcceptance) == "" {
		t.Skipf("acceptance test: set %s=1 to run it against the local control plane",
			testcluster.EnvAcceptance)
	}
}

// acceptanceClient skips the test unless TF_ACC is set, and returns a client of the local
// control plane.
func acceptanceClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	requireAcceptance(t)
	client, err := testcluster.ClientFromEnv()
	if err != nil {
		t.Fatalf("cluster client: %v", err)
	}
	return client
}

// acceptanceDynamicClient is acceptanceClient for the dynamic client.
func acceptanceDynamicClient(t *testing.T) dynamic.Interface {
	t.Helper()
	requireAcceptance(t)
	client, err := testcluster.DynamicClientFromEnv()
	if err != nil {
		t.Fatalf("dynamic client: %v", err)
	}
	return client
}
