package testcluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
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

// ImageFilesystem is the image filesystem of a node as the kubelet's summary API reports it
// in node.runtime.imageFs.
type ImageFilesystem struct {
	CapacityBytes  uint64
	UsedBytes      uint64
	AvailableBytes uint64
	Inodes         uint64
	InodesFree     uint64
	InodesUsed     uint64
}

// DefaultImageFilesystem returns the figures that a KubeletSummaries server reports for a
// node without figures of its own: a 120 GiB filesystem between 55% and 79% full, chosen by the
// node name, with the node's images as its used bytes.
func DefaultImageFilesystem(node Node) ImageFilesystem {
	const capacity = 120 << 30
	var images uint64
	for _, image := range node.Images {
		images += uint64(max(image.SizeBytes(node.runtime()), 0))
	}
	sum := sha256.Sum256([]byte("image-filesystem/" + node.Name))
	usedPercent := 55 + uint64(sum[0])%25
	available := capacity - capacity*usedPercent/100
	const inodes = 62914560
	inodesUsed := 400000 + uint64(len(node.Images))*1000
	return ImageFilesystem{
		CapacityBytes:  capacity,
		UsedBytes:      min(images, capacity-available),
		AvailableBytes: available,
		Inodes:         inodes,
		InodesFree:     inodes - inodesUsed,
		InodesUsed:     inodesUsed,
	}
}

// summaryJSON is the part of the kubelet's statsapi.Summary (k8s.io/kubelet/pkg/apis/stats/
// v1alpha1, v0.37.2) that the servers fill in. That module is not a dependency because it
// requires google.golang.org/grpc v1.82.1, which would raise the version that the Terraform
// plugin libraries are built with here, so the shape is written out.
type summaryJSON struct {
	Node summaryNode `json:"node"`
	Pods []struct{}  `json:"pods"`
}

type summaryNode struct {
	NodeName  string         `json:"nodeName"`
	StartTime time.Time      `json:"startTime"`
	Runtime   summaryRuntime `json:"runtime"`
}

type summaryRuntime struct {
	ImageFs fsStatsJSON `json:"imageFs"`
}

type fsStatsJSON struct {
	Time           time.Time `json:"time"`
	AvailableBytes uint64    `json:"availableBytes"`
	CapacityBytes  uint64    `json:"capacityBytes"`
	UsedBytes      uint64    `json:"usedBytes"`
	InodesFree     uint64    `json:"inodesFree"`
	Inodes         uint64    `json:"inodes"`
	InodesUsed     uint64    `json:"inodesUsed"`
}

// KubeletSummaries plays the kubelets' summary API: one HTTPS server per node on the node's
// loopback InternalIP, serving GET /stats/summary. Close it when done.
type KubeletSummaries struct {
	mu      sync.Mutex
	servers map[string]*summaryServer
}

type summaryServer struct {
	node    string
	address string
	server  *httptest.Server
	// hang makes the server hold each request until the client gives up or Close.
	hang      bool
	figures   ImageFilesystem
	requests  int
	closeOnce sync.Once
	release   chan struct{}
}

// StartKubeletSummaries starts a summary server for each node on a free port of its
// InternalIP, and returns the nodes with KubeletPort set to that port, ready for SeedNodes.
// figures gives each node's image filesystem; nil means DefaultImageFilesystem.
func StartKubeletSummaries(nodes []Node, figures func(Node) ImageFilesystem,
) (*KubeletSummaries, []Node, error) {
	if figures == nil {
		figures = DefaultImageFilesystem
	}
	summaries := &KubeletSummaries{servers: map[string]*summaryServer{}}
	served := make([]Node, len(nodes))
	for i, node := range nodes {
		if err := node.checkLoopback(); err != nil {
			summaries.Close()
			return nil, nil, err
		}
		server, err := summaries.start(node, figures(node))
		if err != nil {
			summaries.Close()
			return nil, nil, err
		}
		node.KubeletPort = int32(server.server.Listener.Addr().(*net.TCPAddr).Port)
		served[i] = node
	}
	return summaries, served, nil
}

func (k *KubeletSummaries) start(node Node, figures ImageFilesystem) (*summaryServer, error) {
	listener, err := net.Listen("tcp", net.JoinHostPort(node.internalIP(), "0"))
	if err != nil {
		return nil, fmt.Errorf("listening for the kubelet of node %s: %w", node.Name, err)
	}
	server := &summaryServer{
		node: node.Name, address: listener.Addr().String(), figures: figures,
		release: make(chan struct{}),
	}
	server.server = httptest.NewUnstartedServer(k.handler(server))
	server.server.Listener = listener
	server.server.StartTLS()

	k.mu.Lock()
	k.servers[node.Name] = server
	k.mu.Unlock()
	return server, nil
}

func (k *KubeletSummaries) handler(server *summaryServer) http.Handler {
	started := time.Now().Add(-72 * time.Hour).Truncate(time.Second)
	return http.HandlerFunc(func(writer http.ResponseWriter, request *http.Request) {
		k.mu.Lock()
		server.requests++
		hang, figures := server.hang, server.figures
		k.mu.Unlock()

		if request.Method != http.MethodGet || request.URL.Path != "/stats/summary" {
			http.NotFound(writer, request)
			return
		}
		if hang {
			select {
			case <-request.Context().Done():
			case <-server.release:
			}
			return
		}

		now := time.Now().Truncate(time.Second)
		summary := summaryJSON{Pods: []struct{}{}, Node: summaryNode{
			NodeName: server.node, StartTime: started,
			Runtime: summaryRuntime{ImageFs: fsStatsJSON{
				Time: now, AvailableBytes: figures.AvailableBytes,
				CapacityBytes: figures.CapacityBytes, UsedBytes: figures.UsedBytes,
				InodesFree: figures.InodesFree, Inodes: figures.Inodes,
				InodesUsed: figures.InodesUsed,
			}},
		}}
		writer.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(writer).Encode(summary)
	})
}

// Hang makes the node's server accept requests and never respond to them.
func (k *KubeletSummaries) Hang(node string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if server, ok := k.servers[node]; ok {
		server.hang = true
	}
}

// Stop closes the node's server, so that connections to its port are refused, as for a
// kubelet that is down.
func (k *KubeletSummaries) Stop(node string) {
	k.mu.Lock()
	server, ok := k.servers[node]
	k.mu.Unlock()
	if ok {
		server.close()
	}
}

// Requests returns the number of requests that reached each node's server.
func (k *KubeletSummaries) Requests() map[string]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	counts := map[string]int{}
	for name, server := range k.servers {
		counts[name] = server.requests
	}
	return counts
}

// Close stops every server.
func (k *KubeletSummaries) Close() {
	k.mu.Lock()
	servers := make([]*summaryServer, 0, len(k.servers))
	for _, server := range k.servers {
		servers = append(servers, server)
	}
	k.mu.Unlock()
	for _, server := range servers {
		server.close()
	}
}

func (s *summaryServer) close() {
	s.closeOnce.Do(func() {
		close(s.release)
		s.server.CloseClientConnections()
		s.server.Close()
	})
}

// endpoint returns the address of the node's server, which may be closed.
func (k *KubeletSummaries) endpoint(node string) (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	server, ok := k.servers[node]
	if !ok {
		return "", false
	}
	return server.address, true
}

// NodeProxy is an HTTPS proxy on loopback in front of the test API server that completes
// node proxy requests for /stats/summary. The API server rejects a node proxy request to a
// loopback node address with 400 "address not allowed" (pkg/registry/core/node/strategy.go,
// Kubernetes v1.37.2), after it has authenticated the caller, authorized get on nodes/proxy
// and found the node. NodeProxy forwards every request, and when the API
// server returns that error for a node's /stats/summary, it fetches the summary from the
// node's KubeletSummaries server instead. Authentication, authorization and a missing node
// thus stay the API server's decisions. Close it when done.
type NodeProxy struct {
	// URL is the proxy's address, https://127.0.0.1:PORT.
	URL string

	server    *httptest.Server
	caPEM     []byte
	summaries *KubeletSummaries
	kubelet   *http.Client

	mu       sync.Mutex
	requests int
}

// NodeProxyContext is the context, cluster and user name in the kubeconfig that
// NodeProxy.WriteKubeconfig writes.
const NodeProxyContext = "node-proxy"

// nodeSummaryPath matches the node proxy path of the kubelet's summary API.
var nodeSummaryPath = regexp.MustCompile(`^/api/v1/nodes/([^/]+)/proxy/stats/summary$`)

// StartNodeProxy listens on a free port of 127.0.0.1 and forwards to the API server in
// target, which must be a loopback address. A request with an Authorization header reaches
// the API server with that header and no client certificate; any other request with
// target's credentials.
func StartNodeProxy(target *rest.Config, summaries *KubeletSummaries) (*NodeProxy, error) {
	targetURL, err := url.Parse(target.Host)
	if err != nil {
		return nil, fmt.Errorf("invalid target host %q: %w", target.Host, err)
	}
	if ip := net.ParseIP(targetURL.Hostname()); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("invalid target host %q: expected a loopback IP address",
			target.Host)
	}
	admin, err := rest.TransportFor(target)
	if err != nil {
		return nil, fmt.Errorf("building the transport to %s: %w", target.Host, err)
	}
	anonymous, err := rest.TransportFor(&rest.Config{
		Host: target.Host, TLSClientConfig: rest.TLSClientConfig{
			CAData: target.CAData, CAFile: target.CAFile, ServerName: target.ServerName,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("building the transport to %s: %w", target.Host, err)
	}

	proxy := &NodeProxy{
		summaries: summaries,
		// The API server's kubelet client skips certificate verification unless
		// --kubelet-certificate-authority is set, and the test servers' certificates name
		// 127.0.0.1 only.
		kubelet: &http.Client{Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		}},
	}
	forward := &httputil.ReverseProxy{
		Rewrite: func(request *httputil.ProxyRequest) {
			request.SetURL(targetURL)
			request.Out.Host = targetURL.Host
		},
		Transport: roundTripperFunc(func(request *http.Request) (*http.Response, error) {
			if request.Header.Get("Authorization") != "" {
				return anonymous.RoundTrip(request)
			}
			return admin.RoundTrip(request)
		}),
		ModifyResponse: proxy.completeSummary,
		FlushInterval:  -1,
	}
	proxy.server = httptest.NewUnstartedServer(forward)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	proxy.server.Listener = listener
	proxy.server.StartTLS()
	proxy.URL = proxy.server.URL
	proxy.caPEM = serverCertificatePEM(proxy.server)
	return proxy, nil
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(request *http.Request) (*http.Response, error) {
	return f(request)
}

// completeSummary replaces the API server's rejection of a loopback node with the node's
// summary, or with the 503 that the API server returns when it cannot reach a kubelet.
func (p *NodeProxy) completeSummary(response *http.Response) error {
	match := nodeSummaryPath.FindStringSubmatch(response.Request.URL.Path)
	if match == nil {
		return nil
	}
	p.mu.Lock()
	p.requests++
	p.mu.Unlock()
	if response.StatusCode != http.StatusBadRequest {
		return nil
	}
	body, err := io.ReadAll(response.Body)
	_ = response.Body.Close()
	if err != nil {
		return err
	}
	if !bytes.Contains(body, []byte("address not allowed")) {
		response.Body = io.NopCloser(bytes.NewReader(body))
		return nil
	}

	status, header, summary := p.fetchSummary(response.Request.Context(), match[1])
	response.StatusCode = status
	response.Status = strconv.Itoa(status) + " " + http.StatusText(status)
	response.Header = header
	response.Body = io.NopCloser(bytes.NewReader(summary))
	response.ContentLength = int64(len(summary))
	return nil
}

// fetchSummary reads /stats/summary from the node's server. It dials only servers that
// KubeletSummaries started, so a node without one is unreachable without any connection.
func (p *NodeProxy) fetchSummary(ctx context.Context, node string) (int, http.Header, []byte) {
	address, ok := p.summaries.endpoint(node)
	if !ok {
		return unreachable(node, errors.New("no kubelet summary server"))
	}
	request, err := http.NewRequestWithContext(ctx, http.MethodGet,
		"https://"+address+"/stats/summary", nil)
	if err != nil {
		return unreachable(node, err)
	}
	response, err := p.kubelet.Do(request)
	if err != nil {
		return unreachable(node, err)
	}
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	if err != nil {
		return unreachable(node, err)
	}
	header := http.Header{"Content-Type": response.Header.Values("Content-Type")}
	return response.StatusCode, header, body
}

// unreachable returns the Status that the API server sends when it cannot reach a node.
func unreachable(node string, err error) (int, http.Header, []byte) {
	body, _ := json.Marshal(map[string]any{
		"kind": "Status", "apiVersion": "v1", "status": "Failure",
		"message": fmt.Sprintf("error trying to reach service: %v", err),
		"reason":  "ServiceUnavailable", "code": http.StatusServiceUnavailable,
		"details": map[string]any{"name": node, "kind": "nodes"},
	})
	header := http.Header{"Content-Type": []string{"application/json"}}
	return http.StatusServiceUnavailable, header, body
}

// SummaryRequests returns the number of node proxy requests for /stats/summary that reached
// the proxy.
func (p *NodeProxy) SummaryRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// Close stops the proxy and closes its connections.
func (p *NodeProxy) Close() {
	p.server.CloseClientConnections()
	p.server.Close()
	p.kubelet.CloseIdleConnections()
}

// WriteKubeconfig writes a kubeconfig whose current context reaches the API server through
// the proxy. With an empty token the proxy adds the target's credentials; with a token, the
// API server authenticates the token's identity.
func (p *NodeProxy) WriteKubeconfig(path, token string) error {
	const name = NodeProxyContext
	config := clientcmdapi.NewConfig()
	config.Clusters[name] = &clientcmdapi.Cluster{Server: p.URL, CertificateAuthorityData: p.caPEM}
	config.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token}
	config.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	config.CurrentContext = name
	return clientcmd.WriteToFile(*config, path)
}

func serverCertificatePEM(server *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE",
		Bytes: server.Certificate().Raw})
}
