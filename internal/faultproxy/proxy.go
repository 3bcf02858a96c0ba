// Package faultproxy is an HTTPS proxy on loopback for tests. It runs in front of a
// kube-apiserver and forwards each request with the target's own credentials. A test scripts
// the faults that it injects: error statuses with or without Retry-After, connections dropped
// before or after the server handled the request, delays, and actions such as a concurrent
// writer that run just before a request is forwarded. It records every request,
// so a test can also assert that a plan sent none.
package faultproxy

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ContextName is the context, cluster and user name in the kubeconfig that WriteKubeconfig
// writes.
const ContextName = "faultproxy"

// Proxy is a running fault-injecting proxy. Close it when done.
type Proxy struct {
	// URL is the proxy's address, https://127.0.0.1:PORT.
	URL string

	server *httptest.Server
	target *url.URL
	caPEM  []byte

	mu         sync.Mutex
	rules      []*Rule
	requests   []Request
	generation int
}

// Request is one request that reached the proxy.
type Request struct {
	Method string
	// Path is the URL path, and Query the raw query string.
	Path, Query string
	// Fault names the rule that handled the request, or is empty when the request passed
	// through unchanged.
	Fault string
	// Status is the status that the client received, or 0 when the proxy dropped the
	// connection.
	Status int
}

// Start listens on a free port of 127.0.0.1 and forwards to the API server in target, which
// must be a loopback address. Requests reach the server with target's credentials, whatever
// the client sends.
func Start(target *rest.Config) (*Proxy, error) {
	targetURL, err := url.Parse(target.Host)
	if err != nil {
		return nil, fmt.Errorf("invalid target host %q: %w", target.Host, err)
	}
	if ip := net.ParseIP(targetURL.Hostname()); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("invalid target host %q: expected a loopback IP address",
			target.Host)
	}
	transport, err := rest.TransportFor(target)
	if err != nil {
		return nil, fmt.Errorf("building the transport to %s: %w", target.Host, err)
	}

	proxy := &Proxy{target: targetURL}
	forward := &httputil.ReverseProxy{
		Rewrite: func(request *httputil.ProxyRequest) {
			request.SetURL(targetURL)
			request.Out.Host = targetURL.Host
			request.Out.Header.Del("Authorization")
		},
		Transport: transport,
		// A client that gave up, such as one whose context was cancelled, is the usual
		// cause, and it reads no response.
		ErrorHandler: func(writer http.ResponseWriter, _ *http.Request, err error) {
			writeStatusMessage(writer, http.StatusBadGateway, "faultproxy: "+err.Error())
		},
		// Watches stream their events, so every write is flushed at once.
		FlushInterval: -1,
	}
	proxy.server = httptest.NewUnstartedServer(proxy.handler(forward))
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	proxy.server.Listener = listener
	proxy.server.StartTLS()
	proxy.URL = proxy.server.URL
	proxy.caPEM = certificatePEM(proxy.server)
	return proxy, nil
}

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() {
	p.server.CloseClientConnections()
	p.server.Close()
}

// RESTConfig returns a client configuration that reaches the API server through the proxy.
func (p *Proxy) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:            p.URL,
		TLSClientConfig: rest.TLSClientConfig{CAData: p.caPEM},
		QPS:             100,
		Burst:           200,
	}
}

// WriteKubeconfig writes a kubeconfig whose context ContextName reaches the API server
// through the proxy. It carries no credentials, because the proxy adds the target's.
func (p *Proxy) WriteKubeconfig(path string) error {
	config := clientcmdapi.NewConfig()
	config.Clusters[ContextName] = &clientcmdapi.Cluster{
		Server: p.URL, CertificateAuthorityData: p.caPEM,
	}
	config.AuthInfos[ContextName] = &clientcmdapi.AuthInfo{}
	config.Contexts[ContextName] = &clientcmdapi.Context{
		Cluster: ContextName, AuthInfo: ContextName,
	}
	config.CurrentContext = ContextName
	return clientcmd.WriteToFile(*config, path)
}

// Add appends rules. The first rule that matches a request and has uses left handles it.
func (p *Proxy) Add(rules ...*Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, rules...)
}

// Reset removes every rule and clears the recorded requests.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
	p.requests = nil
	p.generation++
}

// Requests returns the requests recorded since Start or the last Reset, oldest first.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// Injected returns how many requests each rule handled, by rule name.
func (p *Proxy) Injected() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	counts := map[string]int{}
	for _, rule := range p.rules {
		counts[rule.Name] += rule.used
	}
	return counts
}

func (p *Proxy) handler(forward http.Handler) http.Handler {
	return http.HandlerFunc(func(writer http.ResponseWriter, request *http.Request) {
		rule, index, generation := p.begin(request)
		recorder := &statusRecorder{ResponseWriter: writer, record: func(status int) {
			p.mu.Lock()
			defer p.mu.Unlock()
			// A request that outlived a Reset belongs to the earlier test step.
			if generation == p.generation {
				p.requests[index].Status = status
			}
		}}
		if rule != nil {
			rule.Fault.apply(recorder, request, forward)
		} else {
			forward.ServeHTTP(recorder, request)
		}
	})
}

// begin records request and returns the rule that handles it, or nil, with the record's
// index and the generation that Reset advances.
func (p *Proxy) begin(request *http.Request) (*Rule, int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rule := p.match(request)
	record := Request{Method: request.Method, Path: request.URL.Path,
		Query: request.URL.RawQuery}
	if rule != nil {
		record.Fault = rule.Name
	}
	p.requests = append(p.requests, record)
	return rule, len(p.requests) - 1, p.generation
}

// match returns the rule that handles request, counting the use, or nil. The caller holds
// p.mu.
func (p *Proxy) match(request *http.Request) *Rule {
	for _, rule := range p.rules {
		if !rule.matches(request) {
			continue
		}
		rule.seen++
		if rule.seen <= rule.Skip || rule.Times > 0 && rule.used >= rule.Times {
			continue
		}
		rule.used++
		return rule
	}
	return nil
}

// Rule selects requests and the fault that they meet.
type Rule struct {
	// Name identifies the rule in Request.Fault and Injected.
	Name string
	// Method matches the HTTP method, such as "PUT"; empty matches every method.
	Method string
	// Path matches the URL path; nil matches every path.
	Path *regexp.Regexp
	// Skip lets the first Skip matching requests pass before the fault applies.
	Skip int
	// Times is how many requests meet the fault; zero means every matching request.
	Times int
	// Fault is the fault that matching requests meet.
	Fault Fault

	seen, used int
}

func (r *Rule) matches(request *http.Request) bool {
	if r.Method != "" && r.Method != request.Method {
		return false
	}
	return r.Path == nil || r.Path.MatchString(request.URL.Path)
}

// Fault is the behaviour that a request matching a rule meets. The constructors below
// build one.
type Fault struct {
	name  string
	apply func(writer http.ResponseWriter, request *http.Request, forward http.Handler)
}

// String returns a short description of the fault for test names and reports.
func (f Fault) String() string {
	return f.name
}

// Status responds with a Kubernetes Status object of the code, without forwarding the
// request. A positive retryAfter is sent as the Retry-After header in whole seconds.
func Status(code int, retryAfter time.Duration) Fault {
	name := strconv.Itoa(code)
	if retryAfter > 0 {
		name += fmt.Sprintf(" with Retry-After %s", retryAfter)
	}
	return Fault{name: name, apply: func(writer http.ResponseWriter, _ *http.Request,
		_ http.Handler) {
		if retryAfter > 0 {
			seconds := int((retryAfter + time.Second - 1) / time.Second)
			writer.Header().Set("Retry-After", strconv.Itoa(seconds))
		}
		writeStatus(writer, code)
	}}
}

// DropBefore closes the connection without forwarding the request, so the server never
// receives it.
func DropBefore() Fault {
	return Fault{name: "connection dropped before the server", apply: func(
		writer http.ResponseWriter, _ *http.Request, _ http.Handler) {
		hangUp(writer)
	}}
}

// DropAfter forwards the request, lets the server handle it, discards the response and
// closes the connection, so the client cannot tell whether the request took effect.
func DropAfter() Fault {
	return Fault{name: "connection dropped after the server", apply: func(
		writer http.ResponseWriter, request *http.Request, forward http.Handler) {
		discard := httptest.NewRecorder()
		forward.ServeHTTP(discard, request)
		hangUp(writer)
	}}
}

// Delay holds the request for the duration, or until the client gives up, then forwards it.
func Delay(duration time.Duration) Fault {
	return Fault{name: fmt.Sprintf("delayed %s", duration), apply: func(
		writer http.ResponseWriter, request *http.Request, forward http.Handler) {
		timer := time.NewTimer(duration)
		defer timer.Stop()
		select {
		case <-timer.C:
			forward.ServeHTTP(writer, request)
		case <-request.Context().Done():
		}
	}}
}

// Before runs action and then forwards the request. A test uses it for a concurrent writer
// that changes the object between the client's read and its update, so that the server
// rejects the update with 409 Conflict. An error from action fails the request with 500 and
// the error's text in the Status message.
func Before(name string, action func(ctx context.Context) error) Fault {
	return Fault{name: name, apply: func(
		writer http.ResponseWriter, request *http.Request, forward http.Handler) {
		if err := action(request.Context()); err != nil {
			writeStatusMessage(writer, http.StatusInternalServerError,
				fmt.Sprintf("faultproxy: %s failed: %v", name, err))
			return
		}
		forward.ServeHTTP(writer, request)
	}}
}

// writeStatus writes a Kubernetes Status object for code with the standard reason.
func writeStatus(writer http.ResponseWriter, code int) {
	writeStatusMessage(writer, code, "faultproxy: injected "+http.StatusText(code))
}

func writeStatusMessage(writer http.ResponseWriter, code int, message string) {
	status := map[string]any{
		"kind": "Status", "apiVersion": "v1", "status": "Failure",
		"message": message, "reason": statusReasons[code], "code": code,
	}
	body, _ := json.Marshal(status)
	writer.Header().Set("Content-Type", "application/json")
	writer.WriteHeader(code)
	_, _ = writer.Write(body)
}

// statusReasons holds the metav1.StatusReason that kube-apiserver sends with each code.
var statusReasons = map[int]string{
	http.StatusBadGateway:          "InternalError",
	http.StatusConflict:            "Conflict",
	http.StatusTooManyRequests:     "TooManyRequests",
	http.StatusInternalServerError: "InternalError",
	http.StatusServiceUnavailable:  "ServiceUnavailable",
	http.StatusGatewayTimeout:      "Timeout",
}

// hangUp closes the client's connection without a response.
func hangUp(writer http.ResponseWriter) {
	for {
		recorder, ok := writer.(*statusRecorder)
		if !ok {
			break
		}
		writer = recorder.ResponseWriter
	}
	connection, _, err := http.NewResponseController(writer).Hijack()
	if err != nil {
		// Without HTTP/1.1 hijacking, aborting the handler is the way to reset the stream.
		panic(http.ErrAbortHandler)
	}
	_ = connection.Close()
}

// statusRecorder records the status that reached the client before the client can read
// it, so that Requests shows it as soon as the client has the response.
type statusRecorder struct {
	http.ResponseWriter
	record func(status int)
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.setStatus(code)
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(data []byte) (int, error) {
	r.setStatus(http.StatusOK)
	return r.ResponseWriter.Write(data)
}

func (r *statusRecorder) setStatus(code int) {
	if r.status == 0 {
		r.status = code
		r.record(code)
	}
}

// Unwrap lets http.ResponseController reach the connection to flush and hijack.
func (r *statusRecorder) Unwrap() http.ResponseWriter {
	return r.ResponseWriter
}

func certificatePEM(server *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: server.Certificate().Raw})
}
