package kube

import (
	"fmt"
	"net/http"
	"sync"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Clients builds the cluster clients on first use and caches them. It is safe for
// concurrent use. Building a client opens no connection, so every method works while the
// cluster does not exist yet. Only requests made with the returned clients reach the API
// server.
//
// A failed build is not cached: the next call tries again, because a kubeconfig file that
// another resource writes during apply may exist by then.
type Clients struct {
	config Config
	// deferred is set by NewDeferredClients and makes every method fail with the names
	// in unknown.
	deferred bool
	unknown  []string

	mu         sync.Mutex
	rest       *rest.Config
	httpClient *http.Client
	// secrets redacts the errors of building clients. It is set together with rest.
	secrets    *redactor
	kubernetes kubernetes.Interface
	dynamic    dynamic.Interface
	discovery  discovery.CachedDiscoveryInterface
}

// NewClients returns clients for cfg that send userAgent with every request.
func NewClients(cfg Config, userAgent string) *Clients {
	cfg.UserAgent = userAgent
	return &Clients{config: cfg}
}

// NewDeferredClients is for a provider configuration with values unknown at plan time: every
// method returns an *UnknownSettingsError that names the unknown attributes and explains that
// the operation needs them.
func NewDeferredClients(unknownAttributes []string) *Clients {
	unknown := append([]string(nil), unknownAttributes...)
	return &Clients{deferred: true, unknown: unknown}
}

// REST returns a copy of the client configuration, for clients not built here.
func (c *Clients) REST() (*rest.Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()

	if err := c.ensureREST(); err != nil {
		return nil, err
	}
	return rest.CopyConfig(c.rest), nil
}

// Kubernetes returns the typed clientset for the built-in API groups.
func (c *Clients) Kubernetes() (kubernetes.Interface, error) {
	c.mu.Lock()
	defer c.mu.Unlock()

	if c.kubernetes != nil {
		return c.kubernetes, nil
	}
	if err := c.ensureREST(); err != nil {
		return nil, err
	}
	clientset, err := kubernetes.NewForConfigAndClient(c.rest, c.httpClient)
	if err != nil {
		return nil, c.buildError("Kubernetes clientset", err)
	}
	c.kubernetes = clientset
	return clientset, nil
}

// Dynamic returns the dynamic client, used for OpenShift and operator kinds.
func (c *Clients) Dynamic() (dynamic.Interface, error) {
	c.mu.Lock()
	defer c.mu.Unlock()

	if c.dynamic != nil {
		return c.dynamic, nil
	}
	if err := c.ensureREST(); err != nil {
		return nil, err
	}
	client, err := dynamic.NewForConfigAndClient(c.rest, c.httpClient)
	if err != nil {
		return nil, c.buildError("dynamic client", err)
	}
	c.dynamic = client
	return client, nil
}

// Discovery returns a discovery client that caches the server's API groups in memory for
// the life of Clients. The value also implements discovery.CachedDiscoveryInterface, whose
// Invalidate method drops the cache, for example after a CRD was installed.
func (c *Clients) Discovery() (discovery.DiscoveryInterface, error) {
	c.mu.Lock()
	defer c.mu.Unlock()

	if c.discovery != nil {
		return c.discovery, nil
	}
	if err := c.ensureREST(); err != nil {
		return nil, err
	}
	client, err := discovery.NewDiscoveryClientForConfigAndClient(c.rest, c.httpClient)
	if err != nil {
		return nil, c.buildError("discovery client", err)
	}
	c.discovery = memory.NewMemCacheClient(client)
	return c.discovery, nil
}

// ensureREST builds the client configuration and the HTTP client that every client shares,
// so they share one connection pool. The caller holds c.mu.
func (c *Clients) ensureREST() error {
	if c.deferred {
		return &UnknownSettingsError{Attributes: append([]string(nil), c.unknown...)}
	}
	if c.rest != nil {
		return nil
	}

	config, secrets, problems := c.config.build()
	if len(problems) > 0 {
		return SettingErrors(problems)
	}
	c.secrets = secrets
	httpClient, err := rest.HTTPClientFor(config)
	if err != nil {
		return c.buildError("HTTP client", err)
	}
	c.rest = config
	c.httpClient = httpClient
	return nil
}

// buildError wraps an error from client-go with credentials redacted from its text, those
// of the kubeconfig files included. The caller holds c.mu.
func (c *Clients) buildError(component string, err error) error {
	return &redactedError{message: fmt.Sprintf("building the %s failed: %s", component,
		c.secrets.redact(err.Error()))}
}
