package imageref

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Limits from RFC 1035 for DNS names.
const (
	maxHostLength  = 253
	maxLabelLength = 63
)

// hostPort is a registry address split into host and optional port. For an IPv6 literal, host
// is the address without brackets.
type hostPort struct {
	host string
	port string
	ipv6 bool
}

// String joins host and port back together, with brackets around an IPv6 literal.
func (h hostPort) String() string {
	host := h.host
	if h.ipv6 {
		host = "[" + host + "]"
	}
	if h.port == "" {
		return host
	}
	return host + ":" + h.port
}

// hostProblem is a rule that a host or port broke. Callers wrap it in their own error type.
type hostProblem struct {
	sentinel error
	detail   string
}

// parseHostPort splits and checks "host", "host:port", "[ipv6]" or "[ipv6]:port". With
// allowWildcard, a "*" leftmost label is accepted, because the kubelet matches pull secret keys
// such as "*.example.com" as globs.
func parseHostPort(authority string, allowWildcard bool) (hostPort, *hostProblem) {
	if authority == "" {
		return hostPort{}, &hostProblem{ErrInvalidHost, "the host is missing"}
	}

	if strings.HasPrefix(authority, "[") {
		return parseIPv6HostPort(authority)
	}

	if strings.Count(authority, ":") > 1 {
		detail := "a host may contain at most one colon, before the port"
		if net.ParseIP(authority) != nil {
			detail = fmt.Sprintf("write the IPv6 address in brackets, as in %q", "["+authority+"]")
		}
		return hostPort{}, &hostProblem{ErrInvalidHost, detail}
	}

	host, port, hasPort := strings.Cut(authority, ":")
	if problem := checkDNSHost(host, allowWildcard); problem != nil {
		return hostPort{}, problem
	}
	if hasPort {
		if problem := checkPort(port); problem != nil {
			return hostPort{}, problem
		}
	}
	return hostPort{host: host, port: port}, nil
}

func parseIPv6HostPort(authority string) (hostPort, *hostProblem) {
	end := strings.IndexByte(authority, ']')
	if end < 0 {
		return hostPort{}, &hostProblem{ErrInvalidHost, "the IPv6 address has no closing bracket"}
	}

	address := authority[1:end]
	ip := net.ParseIP(address)
	if ip == nil || !strings.Contains(address, ":") {
		return hostPort{}, &hostProblem{
			ErrInvalidHost,
			fmt.Sprintf("%q between the brackets is not an IPv6 address", address),
		}
	}

	rest := authority[end+1:]
	if rest == "" {
		return hostPort{host: address, ipv6: true}, nil
	}
	port, ok := strings.CutPrefix(rest, ":")
	if !ok {
		return hostPort{}, &hostProblem{
			ErrInvalidHost,
			fmt.Sprintf("only a port may follow the IPv6 address, found %q", rest),
		}
	}
	if problem := checkPort(port); problem != nil {
		return hostPort{}, problem
	}
	return hostPort{host: address, port: port, ipv6: true}, nil
}

// checkDNSHost accepts DNS names and IPv4 addresses: dot-separated labels of ASCII letters,
// digits and hyphens, where no label starts or ends with a hyphen.
func checkDNSHost(host string, allowWildcard bool) *hostProblem {
	if host == "" {
		return &hostProblem{ErrInvalidHost, "the host is missing"}
	}
	if len(host) > maxHostLength {
		return &hostProblem{
			ErrInvalidHost,
			fmt.Sprintf("the host is %d characters long, the maximum is %d",
				len(host), maxHostLength),
		}
	}

	labels := strings.Split(host, ".")
	for i, label := range labels {
		if allowWildcard && i == 0 && label == "*" && len(labels) > 1 {
			continue
		}
		if problem := checkLabel(host, label); problem != nil {
			return problem
		}
	}
	return nil
}

func checkLabel(host, label string) *hostProblem {
	switch {
	case label == "":
		return &hostProblem{
			ErrInvalidHost,
			fmt.Sprintf("the host %q has an empty label. Remove the extra or trailing dot", host),
		}
	case len(label) > maxLabelLength:
		return &hostProblem{
			ErrInvalidHost,
			fmt.Sprintf("the host label %q is longer than %d characters", label, maxLabelLength),
		}
	case label[0] == '-' || label[len(label)-1] == '-':
		return &hostProblem{
			ErrInvalidHost,
			fmt.Sprintf("the host label %q starts or ends with a hyphen", label),
		}
	}

	for _, c := range label {
		if c >= 0x80 || (!isAlphanumeric(byte(c)) && c != '-') {
			return &hostProblem{
				ErrInvalidHost,
				fmt.Sprintf("the host %q contains %q, but a host may contain only ASCII "+
					"letters, digits, hyphens and dots. Write internationalized names in punycode",
					host, c),
			}
		}
	}
	return nil
}

// checkPort accepts decimal ports 1 to 65535 without leading zeros. The kubelet compares ports
// as strings, so "05000" would never match "5000".
func checkPort(port string) *hostProblem {
	if port == "" {
		return &hostProblem{ErrInvalidPort, "the port after the colon is empty. Remove the colon"}
	}

	number, err := strconv.ParseUint(port, 10, 16)
	if err != nil || number == 0 {
		return &hostProblem{
			ErrInvalidPort,
			fmt.Sprintf("the port %q is not a number from 1 to 65535", port),
		}
	}
	if port[0] == '0' {
		return &hostProblem{
			ErrInvalidPort,
			fmt.Sprintf("the port %q has a leading zero. Write it as %q", port,
				strconv.FormatUint(number, 10)),
		}
	}
	return nil
}

func isAlphanumeric(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}
