package testregistry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

const (
	// maxStartAttempts is the number of starts, each on a newly chosen port, when another
	// process takes the chosen port first. Four means the first attempt and three retries.
	maxStartAttempts = 4
	// readyTimeout bounds the wait for the registry to serve /v2/ after it starts.
	readyTimeout = 30 * time.Second
	// readyPollInterval is the pause between two probes of /v2/ during start-up.
	readyPollInterval = 100 * time.Millisecond
	// probeTimeout bounds one probe of /v2/.
	probeTimeout = 2 * time.Second
	// stopGrace is how long Stop waits after SIGTERM before it sends SIGKILL.
	stopGrace = 10 * time.Second
)

// Registry is a running distribution registry on 127.0.0.1 with TLS from its own test CA and
// htpasswd basic auth.
type Registry struct {
	// Host is the registry's address, "127.0.0.1:PORT", as image references name it.
	Host string
	// CAFile is the path of the PEM certificate of the CA that signed the server
	// certificate. The CA key no longer exists, so the CA signs nothing else.
	CAFile string
	// Username is the one user the registry accepts.
	Username string
	// Password is Username's password, random per start. Never print or log it.
	Password string

	dir       string
	removeDir bool
	logf      func(format string, args ...any)
	transport *http.Transport
	process   *registryProcess
	stopOnce  sync.Once
	stopErr   error
}

// Options configure Start.
type Options struct {
	// Dir contains the registry's configuration, credentials, log and storage. It is created
	// when missing and kept after Stop. Empty means a new temporary directory that Stop
	// removes.
	Dir string
	// Logf receives the registry's output and this package's start and stop messages, one
	// line per call, such as testing.T.Logf. Nil discards them. It is called from other
	// goroutines until Stop returns.
	Logf func(format string, args ...any)

	// choosePort returns the port for one start attempt. Nil means a port that was free on
	// 127.0.0.1 a moment before. Tests set it to provoke a port conflict.
	choosePort func() (int, error)
}

// Start starts a registry and returns once GET /v2/ over TLS returns 401 Unauthorized, which
// shows that TLS and authentication are both in place. ctx bounds the start only, and the
// registry runs until Stop. Call Stop even when the test fails.
func Start(ctx context.Context, options Options) (*Registry, error) {
	logf := options.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	choosePort := options.choosePort
	if choosePort == nil {
		choosePort = freePort
	}

	binary, err := findBinary()
	if err != nil {
		return nil, err
	}

	dir, removeDir, err := prepareDir(options.Dir)
	if err != nil {
		return nil, err
	}
	r := &Registry{
		CAFile:    filepath.Join(dir, caCertificateFile),
		Username:  username,
		dir:       dir,
		removeDir: removeDir,
		logf:      logf,
	}

	if err := r.prepare(); err != nil {
		return nil, errors.Join(err, r.removeTemporaryDir())
	}
	for attempt := 1; ; attempt++ {
		err = r.startAttempt(ctx, binary, choosePort)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, errPortInUse) || attempt == maxStartAttempts {
			return nil, errors.Join(err, r.removeTemporaryDir())
		}
		logf("registry: port %s was taken before the registry could listen on it; "+
			"retrying on another port (attempt %d of %d)", r.Host, attempt+1, maxStartAttempts)
	}
}

// prepareDir returns the registry directory, creating a temporary one when dir is empty,
// and whether Stop removes it.
func prepareDir(dir string) (string, bool, error) {
	if dir == "" {
		temporary, err := os.MkdirTemp("", "imagedist-registry-")
		if err != nil {
			return "", false, fmt.Errorf("creating a temporary registry directory: %w", err)
		}
		return temporary, true, nil
	}

	absolute, err := filepath.Abs(dir)
	if err != nil {
		return "", false, fmt.Errorf("resolving the registry directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Join(absolute, storageDirectory), 0o755); err != nil {
		return "", false, fmt.Errorf("creating the registry directory %s: %w", absolute, err)
	}
	return absolute, false, nil
}

// prepare writes the credentials and builds the client transport that trusts the new CA.
func (r *Registry) prepare() error {
	password, err := writeCredentials(r.dir)
	if err != nil {
		return err
	}
	r.Password = password

	caPEM, err := os.ReadFile(r.CAFile)
	if err != nil {
		return fmt.Errorf("reading the registry CA: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("no certificate found in the registry CA file %s", r.CAFile)
	}

	transport := http.DefaultTransport.(*http.Transport).Clone()
	// Everything runs on loopback, so no proxy from the environment may take part.
	transport.Proxy = nil
	transport.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	r.transport = transport
	return nil
}

// startAttempt starts the registry on a newly chosen port and waits until it is ready. On
// failure the process is stopped again.
func (r *Registry) startAttempt(ctx context.Context, binary string,
	choosePort func() (int, error)) error {
	port, err := choosePort()
	if err != nil {
		return err
	}
	r.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	configPath, err := writeConfig(r.dir, port)
	if err != nil {
		return err
	}
	output, err := newOutputLog(filepath.Join(r.dir, logFile), r.logf)
	if err != nil {
		return err
	}
	process, err := startProcess(binary, configPath, r.dir, output)
	if err != nil {
		return errors.Join(err, output.close())
	}

	if err := r.waitReady(ctx, process); err != nil {
		process.stop(stopGrace)
		return errors.Join(err, output.close())
	}
	r.process = process
	r.logf("registry: serving https://%s/ from %s (pid %d)", r.Host, r.dir, process.pid())
	return nil
}

// waitReady polls GET /v2/ until it returns 401 Unauthorized. It fails at once when the
// process exits, when /v2/ returns another status or when ctx ends, and after readyTimeout.
func (r *Registry) waitReady(ctx context.Context, process *registryProcess) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Transport: r.transport, Timeout: probeTimeout}
	url := "https://" + r.Host + "/v2/"

	var lastErr error
	for {
		status, err := probe(ctx, client, url)
		switch {
		case err != nil:
			lastErr = err
		case status == http.StatusUnauthorized:
			return nil
		default:
			return process.startupError(fmt.Sprintf("returned status %d for anonymous GET %s; "+
				"expected 401 Unauthorized", status, url), nil)
		}

		timer := time.NewTimer(readyPollInterval)
		select {
		case <-process.done:
			timer.Stop()
			return process.exitError()
		case <-ctx.Done():
			timer.Stop()
			return process.startupError(fmt.Sprintf("did not serve GET %s (last probe error: %v)",
				url, lastErr), context.Cause(ctx))
		case <-timer.C:
		}
	}
}

func probe(ctx context.Context, client *http.Client, url string) (int, error) {
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	response, err := client.Do(request)
	if err != nil {
		return 0, err
	}
	response.Body.Close()
	return response.StatusCode, nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago. The registry cannot
// listen on port 0 and report the port it got, so another process may still take the port
// first. Start retries in that case.
func freePort() (int, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("choosing a free port on 127.0.0.1: %w", err)
	}
	defer listener.Close()
	return listener.Addr().(*net.TCPAddr).Port, nil
}

// Transport returns an http.RoundTripper that trusts CAFile and not the system roots, for
// clients in tests. It adds no credentials. All callers share one connection pool.
func (r *Registry) Transport() http.RoundTripper {
	return r.transport
}

// Stop sends SIGTERM to the registry, waits up to 10 s, then sends SIGKILL and waits for the
// process to be reaped. It then removes the directory when Start created a temporary one.
// It returns an error also when the registry had exited before Stop. Later calls do nothing
// and return the first call's result.
func (r *Registry) Stop() error {
	r.stopOnce.Do(func() {
		r.stopErr = r.stop()
	})
	return r.stopErr
}

func (r *Registry) stop() error {
	var errs []error
	process := r.process
	switch {
	case process.exited():
		errs = append(errs, process.startupError("exited before Stop", process.waitErr))
	case process.stop(stopGrace):
		r.logf("registry: pid %d ignored SIGTERM for %s and was killed", process.pid(), stopGrace)
	default:
		r.logf("registry: pid %d stopped", process.pid())
	}

	r.transport.CloseIdleConnections()
	if err := process.output.close(); err != nil {
		errs = append(errs, fmt.Errorf("closing the registry log: %w", err))
	}
	if err := r.removeTemporaryDir(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (r *Registry) removeTemporaryDir() error {
	if !r.removeDir {
		return nil
	}
	if err := os.RemoveAll(r.dir); err != nil {
		return fmt.Errorf("removing the registry directory %s: %w", r.dir, err)
	}
	return nil
}
