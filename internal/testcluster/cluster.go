package testcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ContextName is the kubeconfig context, cluster and user name that Start writes.
const ContextName = "imagedist-local"

// KubeconfigFile is the name of the admin kubeconfig inside the cluster directory.
const KubeconfigFile = "kubeconfig"

// defaultStartTimeout bounds Start when Options.StartTimeout is zero. kube-apiserver is
// usually ready within seconds, but a loaded machine can take far longer.
const defaultStartTimeout = 3 * time.Minute

// Grace periods between SIGTERM and SIGKILL in Stop.
const (
	apiServerStopGrace = 15 * time.Second
	otherStopGrace     = 10 * time.Second
)

// controllers selects the kube-controller-manager controllers: all that are on by default
// except node-lifecycle-controller, which would mark every node NotReady and taint it
// unreachable because no kubelet renews a lease, and node-ipam-controller, which needs a pod
// network range.
const controllers = "*,-node-lifecycle-controller,-node-ipam-controller"

// startAttempts is how many times Start chooses new ports after a port conflict.
const startAttempts = 3

// pollInterval is the delay between readiness checks.
const pollInterval = 100 * time.Millisecond

// Options configures Start.
type Options struct {
	// Dir receives the credentials, the kubeconfig, the etcd data and one log file per
	// program. It is created if missing and kept after Stop, and Start deletes etcd data that
	// an earlier cluster left in it. When empty, Start creates a temporary directory that
	// Stop removes.
	Dir string

	// WithoutControllerManager skips kube-controller-manager, so nothing creates default
	// service accounts, runs DaemonSets or collects garbage.
	WithoutControllerManager bool

	// SkipCRDs skips installing the OpenShift and KubernetesImagePuller CRDs.
	SkipCRDs bool

	// StartTimeout bounds the start-up after the binaries are found, in addition to the
	// context's deadline. Zero selects 3 minutes.
	StartTimeout time.Duration

	// Logf receives progress messages. Nil discards them. testing.T.Logf fits.
	Logf func(format string, args ...any)
}

// Cluster is a running control plane. Stop it when done, typically with t.Cleanup.
type Cluster struct {
	// Dir contains the credentials, the kubeconfig, the etcd data and the program logs.
	Dir string
	// KubeconfigPath is the admin kubeconfig, with context ContextName selected.
	KubeconfigPath string
	// Host is the API server URL, https://127.0.0.1:PORT.
	Host string

	config    *rest.Config
	removeDir bool
	logf      func(format string, args ...any)
	processes []*process // in start order

	stopOnce sync.Once
}

// Start runs etcd, kube-apiserver and, unless disabled, kube-controller-manager on free
// loopback ports, waits until the API server is ready, installs the CRDs and writes an admin
// kubeconfig to <Dir>/kubeconfig. On failure it stops whatever it started and returns an
// error quoting the end of the failing program's log.
func Start(ctx context.Context, options Options) (*Cluster, error) {
	logf := options.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}

	// Finding the binaries may build them, which takes minutes on a fresh machine, so the
	// start timeout begins after it.
	binaries, err := findBinaries(!options.WithoutControllerManager)
	if err != nil {
		return nil, err
	}

	timeout := options.StartTimeout
	if timeout == 0 {
		timeout = defaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	dir, removeDir, err := prepareDir(options.Dir)
	if err != nil {
		return nil, err
	}

	cluster, err := startWithRetries(ctx, dir, binaries, options, logf)
	if err != nil {
		if removeDir {
			os.RemoveAll(dir)
		}
		return nil, err
	}
	cluster.removeDir = removeDir
	return cluster, nil
}

// startWithRetries makes start-up attempts in dir until one succeeds, fails for a reason
// other than a port conflict, or startAttempts have failed.
func startWithRetries(ctx context.Context, dir string, binaries map[string]string,
	options Options, logf func(string, ...any)) (*Cluster, error) {
	for attempt := 1; ; attempt++ {
		// Old etcd data would bring back objects and service-account tokens signed by a key
		// that no longer exists.
		if err := os.RemoveAll(filepath.Join(dir, "etcd")); err != nil {
			return nil, fmt.Errorf("clearing old etcd data: %w", err)
		}

		cluster := &Cluster{
			Dir:            dir,
			KubeconfigPath: filepath.Join(dir, KubeconfigFile),
			logf:           logf,
		}
		err := cluster.start(ctx, binaries, options)
		if err == nil {
			return cluster, nil
		}

		cluster.stopProcesses()
		if !errors.Is(err, errPortInUse) || attempt == startAttempts {
			return nil, err
		}
		logf("testcluster: retrying with new ports: %v", err)
	}
}

func findBinaries(withControllerManager bool) (map[string]string, error) {
	programs := []string{programEtcd, programAPIServer}
	if withControllerManager {
		programs = append(programs, programControllerManager)
	}

	binaries := make(map[string]string, len(programs))
	for _, program := range programs {
		path, err := findBinary(program)
		if err != nil {
			return nil, err
		}
		binaries[program] = path
	}
	return binaries, nil
}

func prepareDir(dir string) (path string, temporary bool, err error) {
	if dir == "" {
		dir, err = os.MkdirTemp("", "imagedist-testcluster-")
		if err != nil {
			return "", false, fmt.Errorf("creating the cluster directory: %w", err)
		}
		return dir, true, nil
	}

	dir, err = filepath.Abs(dir)
	if err != nil {
		return "", false, fmt.Errorf("resolving the cluster directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, fmt.Errorf("creating the cluster directory: %w", err)
	}
	return dir, false, nil
}

// start runs one start-up attempt. The caller stops the processes when it fails.
func (c *Cluster) start(ctx context.Context, binaries map[string]string, options Options) error {
	began := time.Now()

	credentials, err := newPKI()
	if err != nil {
		return err
	}
	if err := credentials.write(c.Dir); err != nil {
		return err
	}

	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	etcdClientPort, etcdPeerPort, apiServerPort := ports[0], ports[1], ports[2]

	if err := c.startEtcd(ctx, binaries[programEtcd], etcdClientPort, etcdPeerPort); err != nil {
		return err
	}
	c.logf("testcluster: etcd ready on port %d after %s", etcdClientPort, since(began))

	c.Host = loopbackURL("https", apiServerPort)
	c.config = restConfigFor(c.Host, credentials.ca.certificatePEM, credentials.admin)
	apiServerArgs := apiServerArgs(c.Dir, loopbackURL("http", etcdClientPort), apiServerPort)
	if err := c.startAPIServer(ctx, binaries[programAPIServer], apiServerArgs); err != nil {
		return err
	}
	c.logf("testcluster: kube-apiserver ready at %s after %s", c.Host, since(began))

	if err := writeKubeconfig(c.KubeconfigPath, c.Host, credentials.ca.certificatePEM,
		credentials.admin); err != nil {
		return err
	}

	// The controller manager starts while the CRDs install, which shortens start-up.
	var controllerManager *process
	if !options.WithoutControllerManager {
		controllerManager, err = c.startControllerManager(binaries[programControllerManager],
			credentials)
		if err != nil {
			return err
		}
	}

	if !options.SkipCRDs {
		if err := c.installCRDs(ctx); err != nil {
			return err
		}
		c.logf("testcluster: CRDs established after %s", since(began))
	}

	if controllerManager != nil {
		if err := c.waitForControllerManager(ctx, controllerManager); err != nil {
			return err
		}
		c.logf("testcluster: kube-controller-manager running after %s", since(began))
	}
	return nil
}

func since(start time.Time) time.Duration {
	return time.Since(start).Round(10 * time.Millisecond)
}

func (c *Cluster) startEtcd(ctx context.Context, binary string, clientPort, peerPort int) error {
	clientURL := loopbackURL("http", clientPort)
	peerURL := loopbackURL("http", peerPort)
	args := []string{
		"--name=imagedist-local",
		"--data-dir=" + filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls=" + clientURL,
		"--advertise-client-urls=" + clientURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=imagedist-local=" + peerURL,
		"--initial-cluster-state=new",
		// The data is thrown away with the cluster, so skipping fsync loses nothing and
		// speeds up writes.
		"--unsafe-no-fsync",
		"--log-level=warn",
	}

	etcd, err := startProcess(programEtcd, binary, args, c.Dir, filepath.Join(c.Dir, "etcd.log"))
	if err != nil {
		return err
	}
	c.processes = append(c.processes, etcd)

	client := &http.Client{Timeout: 2 * time.Second}
	return waitUntil(ctx, etcd, func() (bool, string) {
		return getOK(ctx, client, clientURL+"/health")
	})
}

func apiServerArgs(dir, etcdURL string, port int) []string {
	file := func(name string) string { return filepath.Join(dir, name) }
	return []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		// The endpoint reconciler rejects a loopback advertise address. Without it the
		// default/kubernetes Service has no endpoints, which only in-cluster clients need.
		"--endpoint-reconciler-type=none",
		"--secure-port=" + strconv.Itoa(port),
		"--tls-cert-file=" + file(apiServerCertificateFile),
		"--tls-private-key-file=" + file(apiServerKeyFile),
		"--client-ca-file=" + file(caCertificateFile),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + file(serviceAccountPublicFile),
		"--service-account-signing-key-file=" + file(serviceAccountKeyFile),
		"--service-cluster-ip-range=" + serviceIPRange,
		// The Node authorizer works without kubelets because it only grants node
		// identities access to objects bound to their node.
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--allow-privileged=true",
		"--profiling=false",
		// The node proxy and logs dial a node at its preferred address, and the default
		// prefers the Hostname address, which would need a DNS look-up of the node name.
		// Seeded nodes have a loopback InternalIP, which the API server rejects as a proxy
		// target ("address not allowed"), so it dials no node at all.
		"--kubelet-preferred-address-types=InternalIP",
	}
}

func (c *Cluster) startAPIServer(ctx context.Context, binary string, args []string) error {
	logPath := filepath.Join(c.Dir, "kube-apiserver.log")
	apiServer, err := startProcess(programAPIServer, binary, args, c.Dir, logPath)
	if err != nil {
		return err
	}
	c.processes = append(c.processes, apiServer)

	client, err := rest.HTTPClientFor(c.config)
	if err != nil {
		return fmt.Errorf("building an HTTP client for %s: %w", c.Host, err)
	}
	client.Timeout = 5 * time.Second
	return waitUntil(ctx, apiServer, func() (bool, string) {
		return getOK(ctx, client, c.Host+"/readyz")
	})
}

func (c *Cluster) startControllerManager(binary string, credentials *pki) (*process, error) {
	kubeconfig := filepath.Join(c.Dir, "kube-controller-manager.kubeconfig")
	if err := writeKubeconfig(kubeconfig, c.Host, credentials.ca.certificatePEM,
		credentials.controllerManager); err != nil {
		return nil, err
	}

	file := func(name string) string { return filepath.Join(c.Dir, name) }
	args := []string{
		"--kubeconfig=" + kubeconfig,
		// Port 0 turns off the health and metrics endpoint, which nothing here reads.
		"--secure-port=0",
		"--leader-elect=false",
		"--use-service-account-credentials=false",
		// The key lets the serviceaccount-token-controller fill legacy token Secrets.
		"--service-account-private-key-file=" + file(serviceAccountKeyFile),
		"--root-ca-file=" + file(caCertificateFile),
		"--cluster-signing-cert-file=" + file(caCertificateFile),
		"--cluster-signing-key-file=" + file(caKeyFile),
		"--controllers=" + controllers,
		"--profiling=false",
	}

	logPath := filepath.Join(c.Dir, "kube-controller-manager.log")
	controllerManager, err := startProcess(programControllerManager, binary, args, c.Dir, logPath)
	if err != nil {
		return nil, err
	}
	c.processes = append(c.processes, controllerManager)
	return controllerManager, nil
}

// waitForControllerManager waits until the service-account controller has created the
// default ServiceAccount in the default namespace, which shows that the controller manager
// has authenticated and started its controllers.
func (c *Cluster) waitForControllerManager(ctx context.Context, controllerManager *process) error {
	client, err := kubernetes.NewForConfig(c.config)
	if err != nil {
		return fmt.Errorf("building a client for %s: %w", c.Host, err)
	}

	return waitUntil(ctx, controllerManager, func() (bool, string) {
		_, err := client.CoreV1().ServiceAccounts(metav1.NamespaceDefault).
			Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, "ServiceAccount default/default does not exist yet"
		}
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

// waitUntil polls ready until it returns true. It fails when the program exits first or the
// context ends, and then quotes the last reason that ready gave and the program's log.
func waitUntil(ctx context.Context, p *process, ready func() (bool, string)) error {
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()

	lastReason := "not checked yet"
	for {
		ok, reason := ready()
		if ok {
			return nil
		}
		lastReason = reason

		select {
		case <-p.done:
			return p.exitError()
		case <-ctx.Done():
			return p.startupError(fmt.Sprintf("not ready (%v; last check: %s)", ctx.Err(),
				lastReason))
		case <-ticker.C:
		}
	}
}

// getOK reports whether a GET of url returns 200, and otherwise why not.
func getOK(ctx context.Context, client *http.Client, url string) (bool, string) {
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err.Error()
	}
	response, err := client.Do(request)
	if err != nil {
		return false, err.Error()
	}
	defer response.Body.Close()

	body, _ := io.ReadAll(io.LimitReader(response.Body, 4<<10))
	if response.StatusCode != http.StatusOK {
		return false, fmt.Sprintf("GET %s returned %s: %s", url, response.Status, body)
	}
	return true, ""
}

// restConfigFor returns an admin client configuration. Its rate limits are far above
// client-go's defaults (5 queries per second) because seeding thousands of nodes would
// otherwise take minutes.
func restConfigFor(host string, caPEM []byte, admin *keyPair) *rest.Config {
	return &rest.Config{
		Host: host,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   caPEM,
			CertData: admin.certificatePEM,
			KeyData:  admin.keyPEM,
		},
		QPS:   500,
		Burst: 1000,
	}
}

func writeKubeconfig(path, host string, caPEM []byte, user *keyPair) error {
	config := clientcmdapi.NewConfig()
	config.Clusters[ContextName] = &clientcmdapi.Cluster{
		Server:                   host,
		CertificateAuthorityData: caPEM,
	}
	config.AuthInfos[ContextName] = &clientcmdapi.AuthInfo{
		ClientCertificateData: user.certificatePEM,
		ClientKeyData:         user.keyPEM,
	}
	config.Contexts[ContextName] = &clientcmdapi.Context{
		Cluster:  ContextName,
		AuthInfo: ContextName,
	}
	config.CurrentContext = ContextName

	if err := clientcmd.WriteToFile(*config, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}

// RESTConfig returns a copy of the admin client configuration.
func (c *Cluster) RESTConfig() *rest.Config {
	return rest.CopyConfig(c.config)
}

// Clientset returns an admin clientset.
func (c *Cluster) Clientset() (*kubernetes.Clientset, error) {
	return kubernetes.NewForConfig(c.config)
}

// DynamicClient returns an admin dynamic client, for the OpenShift and other custom kinds.
func (c *Cluster) DynamicClient() (*dynamic.DynamicClient, error) {
	return dynamic.NewForConfig(c.config)
}

// PIDs returns the process IDs of the programs that are still running.
func (c *Cluster) PIDs() []int {
	var pids []int
	for _, p := range c.processes {
		if !p.exited() {
			pids = append(pids, p.pid())
		}
	}
	return pids
}

// Stop stops kube-controller-manager, then kube-apiserver, then etcd, each with SIGTERM and,
// after a grace period, SIGKILL, and waits for each to exit. It removes the cluster directory
// when Start created it. Calling Stop again does nothing.
func (c *Cluster) Stop() {
	c.stopOnce.Do(func() {
		c.stopProcesses()
		if c.removeDir {
			if err := os.RemoveAll(c.Dir); err != nil {
				c.logf("testcluster: removing %s: %v", c.Dir, err)
			}
		}
	})
}

// stopProcesses stops the programs in reverse start order. kube-apiserver must stop before
// etcd, because with etcd gone first kube-apiserver v1.37.2 did not exit within 40 s of
// SIGTERM.
func (c *Cluster) stopProcesses() {
	for i := len(c.processes) - 1; i >= 0; i-- {
		p := c.processes[i]
		grace := otherStopGrace
		if p.name == programAPIServer {
			grace = apiServerStopGrace
		}

		began := time.Now()
		if p.stop(grace) {
			c.logf("testcluster: %s ignored SIGTERM for %s and was killed", p.name, grace)
			continue
		}
		c.logf("testcluster: %s stopped in %s", p.name, since(began))
	}
}
