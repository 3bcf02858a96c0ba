package kube

import (
	"fmt"
	"net/http"
)

// redirectGuard fails a request that follows a redirect to another scheme or host, before it
// is sent. client-go adds the bearer token or basic auth to every request, redirected ones
// included, and the TLS configuration carries the client certificate. Without this guard, a
// redirect from the API server, or from a proxy at its address, sends them to any host.
type redirectGuard struct {
	next http.RoundTripper
}

// WrappedRoundTripper returns the next transport, so that client-go can reach the
// http.Transport below.
func (g *redirectGuard) WrappedRoundTripper() http.RoundTripper {
	return g.next
}

func (g *redirectGuard) RoundTrip(request *http.Request) (*http.Response, error) {
	// http.Client sets Response on the request that follows a redirect.
	if request.Response != nil && request.Response.Request != nil {
		from := request.Response.Request.URL
		if from.Scheme != request.URL.Scheme || from.Host != request.URL.Host {
			if request.Body != nil {
				_ = request.Body.Close()
			}
			return nil, fmt.Errorf("the API server %s redirected the request to %s://%s, "+
				"which is another address. The provider follows redirects only within the "+
				"API server's address, so that its credentials reach no other server. Check "+
				"that the server address is the API server's and not a console's",
				redactURL(from.Scheme+"://"+from.Host), request.URL.Scheme, request.URL.Host)
		}
	}
	return g.next.RoundTrip(request)
}
