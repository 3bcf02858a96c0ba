package kube

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// serviceAccountDir is the directory in which Kubernetes mounts a pod's service account
// token and CA bundle. Tests point it at a temporary directory.
var serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

const inClusterName = "in-cluster"

// loadInCluster describes the pod's own cluster and service account as a kubeconfig, so the
// explicit attributes are laid over it with the same rules as over a kubeconfig file. It
// reads the same environment variables and files as rest.InClusterConfig.
func (c Config) loadInCluster(secrets *redactor) (base, []SettingError) {
	host := os.Getenv("KUBERNETES_SERVICE_HOST")
	port := os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return base{}, []SettingError{{
			Attribute: AttributeHost,
			Summary:   "Missing Cluster Address",
			Detail: "Neither host nor config_path is set, and the provider is not running " +
				"in a Kubernetes pod. Set host to the API server URL, or config_path to a " +
				"kubeconfig file. The provider never falls back to localhost.",
			NoCluster: true,
		}}
	}

	cluster := clientcmdapi.NewCluster()
	cluster.Server = "https://" + net.JoinHostPort(host, port)
	caFile := filepath.Join(serviceAccountDir, "ca.crt")
	if _, err := os.Stat(caFile); err == nil {
		cluster.CertificateAuthority = caFile
	}

	user := clientcmdapi.NewAuthInfo()
	if !c.hasExplicitCredentials() {
		tokenFile := filepath.Join(serviceAccountDir, "token")
		if problem := checkTokenFile(tokenFile); problem != nil {
			return base{}, []SettingError{*problem}
		}
		// A token file, unlike a token, is read again as the kubelet rotates it.
		user.TokenFile = tokenFile
	}

	config := clientcmdapi.NewConfig()
	config.Clusters[inClusterName] = cluster
	config.AuthInfos[inClusterName] = user
	config.Contexts[inClusterName] = &clientcmdapi.Context{
		Cluster:  inClusterName,
		AuthInfo: inClusterName,
	}
	config.CurrentContext = inClusterName

	problems := c.checkResolved(resolvedSettings{
		attribute:   AttributeHost,
		cluster:     cluster,
		clusterName: "the in-cluster configuration",
		user:        user,
		userName:    "the pod's service account",
	}, secrets)
	if len(problems) > 0 {
		return base{}, problems
	}
	return base{
		config: *config,
		serverSource: "the in-cluster address " +
			"(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT)",
	}, nil
}

func checkTokenFile(path string) *SettingError {
	_, err := readFile(path)
	if err == nil {
		return nil
	}
	return &SettingError{
		Attribute: AttributeHost,
		Summary:   "Missing Service Account Token",
		Detail: fmt.Sprintf("Neither host nor config_path is set, and KUBERNETES_SERVICE_HOST "+
			"is, so the provider would use the pod's service account, but its token %s "+
			"cannot be read: %v. Set host or config_path, or mount the service account "+
			"token into the pod.", path, err),
	}
}
