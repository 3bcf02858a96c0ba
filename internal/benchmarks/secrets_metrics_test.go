package benchmarks

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes"
)

// secretsRequestKey identifies the apiserver_request_total series of one verb, resource and
// response code, summed over the other labels.
type secretsRequestKey struct {
	verb, resource, subresource, code string
}

func (k secretsRequestKey) String() string {
	target := k.resource
	switch {
	case k.resource == "" && k.subresource != "":
		// The API server labels a request for a path outside the API, such as /metrics,
		// with that path as its subresource.
		target = "(no resource) " + k.subresource
	case k.resource == "":
		target = "(no resource)"
	case k.subresource != "":
		target += "/" + k.subresource
	}
	return k.verb + " " + target + " " + k.code
}

// secretsRequestCounts is the number of requests per verb and resource.
type secretsRequestCounts map[secretsRequestKey]float64

// secretsReadRequestCounts reads apiserver_request_total from the API server's /metrics.
func secretsReadRequestCounts(ctx context.Context, client kubernetes.Interface) (
	secretsRequestCounts, error) {
	data, err := client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the API server's metrics: %w", err)
	}
	return secretsParseRequestCounts(data)
}

// secretsParseRequestCounts sums the apiserver_request_total samples of a Prometheus text
// exposition by verb, resource, subresource and response code.
func secretsParseRequestCounts(exposition []byte) (secretsRequestCounts, error) {
	counts := secretsRequestCounts{}
	scanner := bufio.NewScanner(bytes.NewReader(exposition))
	scanner.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for scanner.Scan() {
		line := scanner.Text()
		rest, found := strings.CutPrefix(line, "apiserver_request_total{")
		if !found {
			continue
		}
		labels, value, err := secretsParseSample(rest)
		if err != nil {
			return nil, fmt.Errorf("parsing the metric line %q: %w", line, err)
		}
		key := secretsRequestKey{verb: labels["verb"], resource: labels["resource"],
			subresource: labels["subresource"], code: labels["code"]}
		counts[key] += value
	}
	return counts, scanner.Err()
}

// secretsParseSample parses `name="value",...} 12` after the opening brace of a sample.
func secretsParseSample(text string) (map[string]string, float64, error) {
	labels := map[string]string{}
	for {
		text = strings.TrimLeft(text, ", ")
		if rest, found := strings.CutPrefix(text, "}"); found {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				return nil, 0, fmt.Errorf("no value after the labels")
			}
			value, err := strconv.ParseFloat(fields[0], 64)
			return labels, value, err
		}

		name, rest, found := strings.Cut(text, `="`)
		if !found {
			return nil, 0, fmt.Errorf("no label value after %q", text)
		}
		value, rest, err := secretsUnquoteLabel(rest)
		if err != nil {
			return nil, 0, err
		}
		labels[name] = value
		text = rest
	}
}

// secretsUnquoteLabel reads a label value up to its closing quote, with the escapes \\, \"
// and \n of the Prometheus text format, and returns it with the text after the quote.
func secretsUnquoteLabel(text string) (string, string, error) {
	var value strings.Builder
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == '"':
			return value.String(), text[i+1:], nil
		case c == '\\' && i+1 < len(text):
			i++
			if text[i] == 'n' {
				value.WriteByte('\n')
			} else {
				value.WriteByte(text[i])
			}
		default:
			value.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("unterminated label value %q", text)
}

// minus returns the counts that grew since before, by how much.
func (c secretsRequestCounts) minus(before secretsRequestCounts) secretsRequestCounts {
	delta := secretsRequestCounts{}
	for key, value := range c {
		if grown := value - before[key]; grown > 0 {
			delta[key] = grown
		}
	}
	return delta
}

// sum returns the total over the keys that keep returns true for.
func (c secretsRequestCounts) sum(keep func(secretsRequestKey) bool) float64 {
	var total float64
	for key, value := range c {
		if keep(key) {
			total += value
		}
	}
	return total
}

// String lists the counts one per line, sorted by resource, verb and code.
func (c secretsRequestCounts) String() string {
	keys := slices.SortedFunc(maps.Keys(c), func(a, b secretsRequestKey) int {
		return strings.Compare(a.resource+"/"+a.subresource+" "+a.verb+" "+a.code,
			b.resource+"/"+b.subresource+" "+b.verb+" "+b.code)
	})
	var text strings.Builder
	for _, key := range keys {
		fmt.Fprintf(&text, "%s: %g\n", key, c[key])
	}
	return text.String()
}

func TestSecretsParseRequestCounts(t *testing.T) {
	exposition := []byte(`# HELP apiserver_request_total [STABLE] Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="GET",version="v1"} 12
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="secrets",scope="namespace",subresource="",verb="LIST",version="v1"} 2
apiserver_request_total{code="200",component="",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="GET",version="v1"} 3
apiserver_request_total{code="409",component="apiserver",dry_run="",group="",resource="serviceaccounts",scope="resource",subresource="",verb="PUT",version="v1"} 1.5e+01
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="",scope="",subresource="/metrics",verb="GET",version=""} 4
apiserver_request_duration_seconds_count{code="200",resource="secrets",verb="GET"} 99
`)

	counts, err := secretsParseRequestCounts(exposition)
	if err != nil {
		t.Fatal(err)
	}

	want := secretsRequestCounts{
		{verb: "GET", resource: "secrets", code: "200"}:                   15,
		{verb: "LIST", resource: "secrets", code: "200"}:                  2,
		{verb: "PUT", resource: "serviceaccounts", code: "409"}:           15,
		{verb: "GET", resource: "", subresource: "/metrics", code: "200"}: 4,
	}
	if len(counts) != len(want) {
		t.Errorf("parsed %d series, want %d:\n%s", len(counts), len(want), counts)
	}
	for key, value := range want {
		if counts[key] != value {
			t.Errorf("%s = %g, want %g", key, counts[key], value)
		}
	}
}

func TestSecretsParseLabelEscapes(t *testing.T) {
	labels, value, err := secretsParseSample(`a="x\\y",b="say \"hi\"",c="1\n2"} 7`)
	if err != nil {
		t.Fatal(err)
	}
	if value != 7 {
		t.Errorf("value = %g, want 7", value)
	}
	want := map[string]string{"a": `x\y`, "b": `say "hi"`, "c": "1\n2"}
	for name, text := range want {
		if labels[name] != text {
			t.Errorf("label %s = %q, want %q", name, labels[name], text)
		}
	}
}

func TestSecretsRequestCountsMinus(t *testing.T) {
	get := secretsRequestKey{verb: "GET", resource: "secrets", code: "200"}
	put := secretsRequestKey{verb: "PUT", resource: "secrets", code: "200"}
	before := secretsRequestCounts{get: 10, put: 4}
	after := secretsRequestCounts{get: 13, put: 4}

	delta := after.minus(before)

	if len(delta) != 1 || delta[get] != 3 {
		t.Errorf("delta = %v, want only %s: 3", delta, get)
	}
}
