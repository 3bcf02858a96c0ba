// Command devcluster runs the local control plane of package testcluster in the background,
// seeded with the demo nodes and the OpenShift objects, for manual use and the demo:
//
//	go run ./internal/testcluster/cmd/devcluster up      # start; print the kubeconfig path
//	go run ./internal/testcluster/cmd/devcluster status  # report whether it runs
//	go run ./internal/testcluster/cmd/devcluster down    # stop
//
// It also plays the controllers that cannot run here, changing no node:
//
//   - the machine-config operator of OpenShift 4.23, which accepts each KubeletConfig that
//     selects a pool and rolls that pool out to a new rendered configuration;
//   - the pinned-image part of the machine-config daemon, which reports the PinnedImageSets
//     that pools list as pinned on each of their nodes;
//   - the kubelets (testcluster.Kubelets), which bind DaemonSet pods to their nodes and report
//     them running with their images pulled, though no container runs;
//   - the kubelets' summary API (testcluster.KubeletSummaries), with each node's image
//     filesystem. The API server refuses to proxy to the nodes' loopback addresses, so
//     kubeconfig-node-proxy in the cluster directory reaches it through
//     testcluster.NodeProxy, which completes those requests. Use that kubeconfig to read
//     image filesystems through the node proxy.
//
// Beside the control plane it runs a distribution registry of package testregistry on
// 127.0.0.1, with TLS from its own CA and one htpasswd user. It pushes the two images that
// examples/quickstart pre-pulls:
//
//   - imagedist-demo/checkout:2.4.1, a linux/amd64 image of about 12 MiB;
//   - imagedist-demo/frontend:5.2.0, an index of linux/amd64 and linux/arm64 images of about
//     6 MiB each, with an attestation manifest for each.
//
// While the registry runs, registry.env in the cluster directory assigns its host, CA file,
// user name and password file to shell variables. registry.password contains the password
// and is readable by the owner only.
//
// The cluster lives in .devcluster/ at the module root unless -dir names another directory.
// up starts a copy of this program with the serve subcommand in a new session and records
// its process ID in devcluster.pid. It returns once the API server is ready and seeded and
// the registry has the images. down sends that process SIGTERM, and it stops the registry,
// then kube-controller-manager, kube-apiserver and etcd in that order. Each up starts an
// empty cluster and an empty registry: down discards their objects and images.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/imagedist/terraform-provider-imagedist/internal/testcluster"
)

// Files in the cluster directory besides those that testcluster writes.
const (
	pidFile   = "devcluster.pid"
	readyFile = "devcluster.ready"
	logFile   = "devcluster.log"
	lockFile  = "devcluster.lock"
	// nodeProxyKubeconfig reaches the API server through testcluster.NodeProxy, which
	// completes the node proxy requests for the kubelets' summary API.
	nodeProxyKubeconfig = "kubeconfig-node-proxy"
)

const (
	// stopTimeout bounds down's wait for serve to exit before it sends SIGKILL. The serve
	// process needs up to 35 s when every program ignores SIGTERM until its grace period
	// ends.
	stopTimeout = 60 * time.Second
	// seedTimeout bounds the seeding after the control plane is ready.
	seedTimeout = 2 * time.Minute
)

// exitNotRunning is the exit status of status when no cluster runs, as for an LSB init
// script's status action.
const exitNotRunning = 3

func main() {
	flags := flag.NewFlagSet("devcluster", flag.ExitOnError)
	dirFlag := flags.String("dir", "", "cluster directory (default .devcluster at the module root)")
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "usage: devcluster [-dir DIR] up|down|status\n")
		flags.PrintDefaults()
	}
	flags.Parse(os.Args[1:])
	if flags.NArg() != 1 {
		flags.Usage()
		os.Exit(2)
	}

	dir, err := clusterDir(*dirFlag)
	if err != nil {
		fatal(err)
	}

	switch flags.Arg(0) {
	case "up":
		err = up(dir)
	case "down":
		err = down(dir)
	case "status":
		os.Exit(status(dir))
	case "serve":
		err = serve(dir)
	default:
		flags.Usage()
		os.Exit(2)
	}
	if err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "devcluster: %v\n", err)
	os.Exit(1)
}

func clusterDir(flagValue string) (string, error) {
	if flagValue != "" {
		return filepath.Abs(flagValue)
	}
	root, err := testcluster.ModuleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".devcluster"), nil
}

// up starts the serve process unless one runs, and waits until it is ready.
func up(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	// The lock makes a second up wait and then find the first one's server.
	lock, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("opening the lock file: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking %s: %w", lock.Name(), err)
	}

	if pid, running := runningServer(dir); running {
		if kubeconfig, ready := readyKubeconfig(dir); ready {
			fmt.Fprintf(os.Stderr, "devcluster: already running (process %d)\n", pid)
			fmt.Println(kubeconfig)
			return nil
		}
		fmt.Fprintf(os.Stderr, "devcluster: process %d is still starting; waiting\n", pid)
		return waitForReady(dir, pid, nil)
	}

	removeStateFiles(dir)

	executable, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program's path to start the server: %w", err)
	}
	log, err := os.Create(filepath.Join(dir, logFile))
	if err != nil {
		return fmt.Errorf("creating the server log: %w", err)
	}
	defer log.Close()

	// The server inherits the working directory, from which testcluster finds the module
	// root and through it the binaries and CRDs.
	server := exec.Command(executable, "-dir", dir, "serve")
	server.Stdout = log
	server.Stderr = log
	// A new session detaches the server from this terminal, so it outlives this command and
	// a Ctrl-C here does not reach it.
	server.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := server.Start(); err != nil {
		return fmt.Errorf("starting the server: %w", err)
	}
	pid := server.Process.Pid
	if err := os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(pid)+"\n"),
		0o644); err != nil {
		server.Process.Kill()
		return fmt.Errorf("writing the pid file: %w", err)
	}

	exited := make(chan error, 1)
	go func() { exited <- server.Wait() }()
	fmt.Fprintf(os.Stderr, "devcluster: starting the control plane in %s (log: %s)\n", dir,
		log.Name())
	return waitForReady(dir, pid, exited)
}

// waitForReady waits until serve writes the ready file, and fails if it exits first.
// exited reports the exit of a server that this process started. It is nil for a server
// that another up started, which is watched through its process ID instead.
func waitForReady(dir string, pid int, exited <-chan error) error {
	ticker := time.NewTicker(200 * time.Millisecond)
	defer ticker.Stop()
	for {
		if kubeconfig, ready := readyKubeconfig(dir); ready {
			fmt.Println(kubeconfig)
			return nil
		}

		select {
		case err := <-exited:
			return fmt.Errorf("the server exited before it was ready (%v); last lines of "+
				"%s:\n%s", err, filepath.Join(dir, logFile), tail(filepath.Join(dir, logFile)))
		case <-ticker.C:
		}
		if exited == nil && !processRuns(pid) {
			return fmt.Errorf("the server (process %d) exited before it was ready; see %s",
				pid, filepath.Join(dir, logFile))
		}
	}
}

// serve runs the cluster in the foreground until SIGTERM or SIGINT.
func serve(dir string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	defer removeStateFiles(dir)

	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, time.Now().Format(time.TimeOnly)+" "+format+"\n", args...)
	}
	cluster, err := testcluster.Start(ctx, testcluster.Options{Dir: dir, Logf: logf})
	if err != nil {
		return err
	}
	defer cluster.Stop()

	summaries, nodes, err := testcluster.StartKubeletSummaries(testcluster.DemoNodes(), nil)
	if err != nil {
		return err
	}
	defer summaries.Close()
	seedCtx, cancel := context.WithTimeout(ctx, seedTimeout)
	err = testcluster.SeedDemoNodes(seedCtx, cluster.RESTConfig(), nodes)
	cancel()
	if err != nil {
		return fmt.Errorf("seeding the cluster: %w", err)
	}
	nodeProxy, err := testcluster.StartNodeProxy(cluster.RESTConfig(), summaries)
	if err != nil {
		return err
	}
	defer nodeProxy.Close()
	if err := nodeProxy.WriteKubeconfig(filepath.Join(dir, nodeProxyKubeconfig), ""); err != nil {
		return fmt.Errorf("writing the node proxy kubeconfig: %w", err)
	}

	registry, err := startRegistry(ctx, dir, logf)
	if err != nil {
		return err
	}
	defer func() {
		if err := registry.Stop(); err != nil {
			logf("devcluster: stopping the registry: %v", err)
		}
	}()

	client, err := cluster.DynamicClient()
	if err != nil {
		return err
	}
	operator := &testcluster.MachineConfigOperator{
		Client:       client,
		Style:        testcluster.ConditionStyle423,
		Rollout:      true,
		PollInterval: 500 * time.Millisecond,
		Logf:         logf,
	}
	clientset, err := cluster.Clientset()
	if err != nil {
		return err
	}
	kubelets := &testcluster.Kubelets{
		Client:       clientset,
		PollInterval: 500 * time.Millisecond,
		Logf:         logf,
	}
	pinned := &testcluster.PinnedImages{
		Client:       client,
		Kubernetes:   clientset,
		PollInterval: 500 * time.Millisecond,
		Logf:         logf,
	}
	playersCtx, stopPlayers := context.WithCancel(ctx)
	waits := []func(){
		operator.Start(playersCtx), kubelets.Start(playersCtx), pinned.Start(playersCtx),
	}
	defer func() {
		stopPlayers()
		for _, wait := range waits {
			wait()
		}
	}()

	// The ready file appears complete or not at all, because up reads it while it waits.
	temporary := filepath.Join(dir, readyFile+".partial")
	if err := os.WriteFile(temporary, []byte(cluster.KubeconfigPath+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing the ready file: %w", err)
	}
	if err := os.Rename(temporary, filepath.Join(dir, readyFile)); err != nil {
		return fmt.Errorf("writing the ready file: %w", err)
	}
	logf("devcluster: ready at %s; kubeconfig %s; registry https://%s/", cluster.Host,
		cluster.KubeconfigPath, registry.Host)

	<-ctx.Done()
	logf("devcluster: stopping")
	return nil
}

// down stops the serve process and waits until it has exited.
func down(dir string) error {
	pid, running := runningServer(dir)
	if !running {
		removeStateFiles(dir)
		fmt.Fprintln(os.Stderr, "devcluster: not running")
		return nil
	}

	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signalling process %d: %w", pid, err)
	}
	if !waitForExit(pid, stopTimeout) {
		// The control-plane programs die with the server because of their parent-death
		// signal.
		fmt.Fprintf(os.Stderr, "devcluster: process %d did not stop within %s; killing it\n",
			pid, stopTimeout)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("killing process %d: %w", pid, err)
		}
		waitForExit(pid, 10*time.Second)
	}

	removeStateFiles(dir)
	fmt.Fprintln(os.Stderr, "devcluster: stopped")
	return nil
}

// status prints whether the cluster runs and returns the exit status.
func status(dir string) int {
	pid, running := runningServer(dir)
	if !running {
		fmt.Println("devcluster: not running")
		return exitNotRunning
	}
	if kubeconfig, ready := readyKubeconfig(dir); ready {
		fmt.Printf("devcluster: running (process %d); kubeconfig %s\n", pid, kubeconfig)
		return 0
	}
	fmt.Printf("devcluster: starting (process %d); log %s\n", pid, filepath.Join(dir, logFile))
	return 0
}

// runningServer returns the process ID in the pid file and whether that process is a
// devcluster server for dir. The command-line check guards against a reused process ID.
func runningServer(dir string) (int, bool) {
	data, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 || !processRuns(pid) {
		return 0, false
	}

	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return 0, false
	}
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	if len(args) < 4 || args[len(args)-1] != "serve" || args[len(args)-2] != dir {
		return 0, false
	}
	return pid, true
}

// processRuns reports whether a process exists and is not a zombie.
func processRuns(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may contain spaces.
	end := strings.LastIndexByte(string(stat), ')')
	if end < 0 || end+2 >= len(stat) {
		return false
	}
	return stat[end+2] != 'Z'
}

func waitForExit(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !processRuns(pid) {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return !processRuns(pid)
}

func readyKubeconfig(dir string) (string, bool) {
	data, err := os.ReadFile(filepath.Join(dir, readyFile))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(data)), true
}

func removeStateFiles(dir string) {
	for _, name := range []string{pidFile, readyFile, registryEnvFile, registryPasswordFile,
		nodeProxyKubeconfig} {
		os.Remove(filepath.Join(dir, name))
	}
}

// tail returns the last lines of a file.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(log unavailable: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(len(lines)-30, 0):], "\n")
}
