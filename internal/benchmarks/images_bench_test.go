package benchmarks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/imagedist/terraform-provider-imagedist/internal/dockerconfig"
	"github.com/imagedist/terraform-provider-imagedist/internal/testregistry"
)

const (
	// imagesDistinct is the number of images pushed, and imagesIndexes how many of them are
	// multi-platform indexes. Each image is named by imagesReferencesPerImage references.
	imagesDistinct           = 50
	imagesIndexes            = 15
	imagesReferencesPerImage = 4

	// imagesRoundTripDelay is what the latency proxy adds to every round trip.
	imagesRoundTripDelay = 20 * time.Millisecond

	// imagesTerraformParallelism is Terraform's default -parallelism, the most data sources
	// that a plan reads at once.
	imagesTerraformParallelism = 10

	// imagesIterationTimeout bounds one run of a variant, so a hung registry fails the
	// benchmark instead of holding it until the test binary's timeout.
	imagesIterationTimeout = 5 * time.Minute
)

// imagesPlatforms are the platforms of each pushed index. The look-ups describe linux/amd64,
// so each index look-up reads the index, both platform manifests and one config blob.
var imagesPlatforms = []string{"linux/amd64", "linux/arm64/v8"}

// imagesFixture is a test registry with imagesDistinct images and a latency proxy in front
// of it.
type imagesFixture struct {
	registry *testregistry.Registry
	proxy    *imagesLatencyProxy
	// cluster is the provider's cluster address, a listener that counts and closes every
	// connection, because the look-ups must not contact the cluster.
	cluster *imagesConnectionCounter
	// registryPID is the registry's process ID, for its CPU time.
	registryPID int
	caPEM       string
	// authFile is a docker config file with the registry's credentials under both the
	// registry's and the proxy's address.
	authFile string
	// paths are the references without their host, as "bench/image-07:v1", and digests the
	// digest that the look-up of each must return.
	paths   []string
	digests []string
}

// imagesLookup looks references up through a provider and returns the digest of each, in
// order.
type imagesLookup func(ctx context.Context, server *imagesProviderServer,
	references []string) ([]string, error)

// BenchmarkImageLookups compares imagedist_images, which looks up 200 references in one
// read, with imagedist_image read once per reference. The 200 references name 50 images
// (35 single-platform images and 15 indexes with attestations) by two tags, by digest and
// by tag and digest, in a test registry with TLS and basic auth on 127.0.0.1. The group
// "refs=200" reaches the registry directly. The group "refs=200,rtt=20ms" goes through a
// proxy that adds 20 ms to every round trip, as a registry across a network does.
//
// Variants: ref-one-at-a-time reads imagedist_image once per reference, one after the
// other. ref-parallel-10 does the same reads 10 at a time, as a plan with Terraform's
// default -parallelism schedules them. batch reads imagedist_images once with all 200
// references. Each run uses a newly configured provider, so no connection is open at its
// start, as in a new plan. peak-rss-MiB is the test process's peak resident set during the
// runs and rss-before-MiB its resident set before them (see measureSelfMemory), so the
// registry is not part of either. process-cpu-s and registry-cpu-s are the CPU time that
// the benchmark process (provider and proxy) and the registry used per run.
func BenchmarkImageLookups(b *testing.B) {
	requireBench(b)
	fixture := imagesStartFixture(b)
	references := len(fixture.paths)

	variants := []struct {
		name   string
		lookup imagesLookup
	}{
		{"ref-one-at-a-time", imagesLookupEach(1)},
		{"ref-parallel-" + strconv.Itoa(imagesTerraformParallelism),
			imagesLookupEach(imagesTerraformParallelism)},
		{"batch", imagesLookupBatch},
	}
	groups := []struct {
		name string
		host string
	}{
		{fmt.Sprintf("refs=%d", references), fixture.registry.Host},
		{fmt.Sprintf("refs=%d,rtt=%s", references, imagesRoundTripDelay), fixture.proxy.Host},
	}
	for _, group := range groups {
		b.Run(group.name, func(b *testing.B) {
			for _, variant := range variants {
				b.Run(variant.name, func(b *testing.B) {
					fixture.run(b, group.host, variant.lookup)
				})
			}
		})
	}
}

// run times lookup over all references on host, each iteration with a new provider.
func (f *imagesFixture) run(b *testing.B, host string, lookup imagesLookup) {
	references := make([]string, len(f.paths))
	for i, path := range f.paths {
		references[i] = host + "/" + path
	}

	b.StopTimer()
	var cpu imagesCPU
	memory, err := measureSelfMemory(func() error {
		for range b.N {
			used, err := f.runOnce(b, references, lookup)
			if err != nil {
				return err
			}
			cpu.process += used.process
			cpu.registry += used.registry
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(memory.peakMiB, unitPeakRSS)
	b.ReportMetric(memory.beforeMiB, unitRSSBefore)
	b.ReportMetric(cpu.process/float64(b.N), imagesUnitProcessCPU)
	b.ReportMetric(cpu.registry/float64(b.N), imagesUnitRegistryCPU)
}

// runOnce configures a provider, times one lookup of references with it and returns the CPU
// time that the lookup used.
func (f *imagesFixture) runOnce(b *testing.B, references []string, lookup imagesLookup) (
	imagesCPU, error) {
	ctx, cancel := context.WithTimeout(context.Background(), imagesIterationTimeout)
	defer cancel()
	server, err := imagesNewProviderServer(ctx, f.caPEM, f.authFile, "https://"+f.cluster.Host)
	if err != nil {
		return imagesCPU{}, fmt.Errorf("configuring the provider: %w", err)
	}
	before, err := imagesReadCPU(f.registryPID)
	if err != nil {
		return imagesCPU{}, err
	}

	b.StartTimer()
	digests, err := lookup(ctx, server, references)
	b.StopTimer()
	if err != nil {
		return imagesCPU{}, err
	}

	after, err := imagesReadCPU(f.registryPID)
	if err != nil {
		return imagesCPU{}, err
	}
	if connections := f.cluster.connections.Load(); connections > 0 {
		return imagesCPU{}, fmt.Errorf("the look-ups opened %d connections to the cluster "+
			"address", connections)
	}
	used := imagesCPU{process: after.process - before.process,
		registry: after.registry - before.registry}
	return used, f.checkDigests(references, digests)
}

// checkDigests returns an error unless every reference returned its pushed digest.
func (f *imagesFixture) checkDigests(references, digests []string) error {
	if len(digests) != len(references) {
		return fmt.Errorf("%d digests for %d references", len(digests), len(references))
	}
	for i, digest := range digests {
		if digest != f.digests[i] {
			return fmt.Errorf("%s: digest %q, expected %q", references[i], digest,
				f.digests[i])
		}
	}
	return nil
}

// imagesLookupEach returns a lookup that reads imagedist_image once per reference, with at
// most parallelism reads at a time.
func imagesLookupEach(parallelism int) imagesLookup {
	return func(ctx context.Context, server *imagesProviderServer,
		references []string) ([]string, error) {
		digests := make([]string, len(references))
		errs := make([]error, len(references))
		indexes := make(chan int)
		var workers sync.WaitGroup
		for range parallelism {
			workers.Go(func() {
				for i := range indexes {
					digests[i], errs[i] = imagesReadOne(ctx, server, references[i])
				}
			})
		}
		for i := range references {
			indexes <- i
		}
		close(indexes)
		workers.Wait()

		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
		return digests, nil
	}
}

// imagesReadOne reads imagedist_image for reference and returns the digest in its state.
func imagesReadOne(ctx context.Context, server *imagesProviderServer,
	reference string) (string, error) {
	const typeName = "imagedist_image"
	resp, err := server.read(ctx, typeName, map[string]tftypes.Value{
		"reference": tftypes.NewValue(tftypes.String, reference),
	}, true)
	if err != nil {
		return "", err
	}
	state, err := imagesStateAttributes(server, typeName, resp.State)
	if err != nil {
		return "", err
	}
	var digest string
	if err := state["digest"].As(&digest); err != nil {
		return "", fmt.Errorf("%s: digest: %w", reference, err)
	}
	return digest, nil
}

// imagesLookupBatch reads imagedist_images once with all references. A warning counts as an
// error, because the data source reports failed look-ups as one.
func imagesLookupBatch(ctx context.Context, server *imagesProviderServer,
	references []string) ([]string, error) {
	const typeName = "imagedist_images"
	resp, err := server.read(ctx, typeName, map[string]tftypes.Value{
		"references": stringList(references),
	}, true)
	if err != nil {
		return nil, err
	}
	state, err := imagesStateAttributes(server, typeName, resp.State)
	if err != nil {
		return nil, err
	}
	var elements []tftypes.Value
	if err := state["images"].As(&elements); err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}

	digests := make([]string, len(elements))
	for i, element := range elements {
		var attributes map[string]tftypes.Value
		if err := element.As(&attributes); err != nil {
			return nil, fmt.Errorf("images[%d]: %w", i, err)
		}
		if err := attributes["digest"].As(&digests[i]); err != nil {
			return nil, fmt.Errorf("images[%d].digest: %w", i, err)
		}
	}
	return digests, nil
}

// imagesStateAttributes decodes the state of a data source read into its attributes.
func imagesStateAttributes(server *imagesProviderServer, typeName string,
	state *tfprotov6.DynamicValue) (map[string]tftypes.Value, error) {
	value, err := state.Unmarshal(server.dataSources[typeName].ValueType())
	if err != nil {
		return nil, fmt.Errorf("decoding the state of %s: %w", typeName, err)
	}
	var attributes map[string]tftypes.Value
	if err := value.As(&attributes); err != nil {
		return nil, fmt.Errorf("decoding the state of %s: %w", typeName, err)
	}
	return attributes, nil
}

// imagesStartFixture starts the registry and the proxy, pushes the images and writes the
// auth file. Both servers stop when b's benchmark ends.
func imagesStartFixture(b *testing.B) *imagesFixture {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	registry, err := testregistry.Start(ctx, testregistry.Options{Logf: imagesDiscardLog})
	if err != nil {
		b.Fatalf("starting the test registry: %v", err)
	}
	b.Cleanup(func() {
		if err := registry.Stop(); err != nil {
			b.Logf("stopping the test registry: %v", err)
		}
	})
	proxy, err := imagesStartLatencyProxy(registry.Host, imagesRoundTripDelay)
	if err != nil {
		b.Fatalf("starting the latency proxy: %v", err)
	}
	b.Cleanup(func() { proxy.Close() })
	cluster, err := imagesStartConnectionCounter()
	if err != nil {
		b.Fatalf("starting the stand-in cluster address: %v", err)
	}
	b.Cleanup(func() { cluster.Close() })

	caPEM, err := os.ReadFile(registry.CAFile)
	if err != nil {
		b.Fatal(err)
	}
	registryPID, err := imagesFindChild("registry")
	if err != nil {
		b.Fatalf("finding the registry process: %v", err)
	}
	fixture := &imagesFixture{registry: registry, proxy: proxy, cluster: cluster,
		registryPID: registryPID, caPEM: string(caPEM)}
	fixture.authFile, err = imagesWriteAuthFile(b.TempDir(), registry, proxy.Host)
	if err != nil {
		b.Fatal(err)
	}

	started := time.Now()
	if err := fixture.push(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("pushed %d images, each tagged v1 and stable, in %s", imagesDistinct,
		time.Since(started).Round(time.Millisecond))
	return fixture
}

// push pushes the images, each tagged v1 and stable, and records imagesReferencesPerImage
// references per image: by each tag, by digest, and by tag and digest.
func (f *imagesFixture) push(ctx context.Context) error {
	for i := range imagesDistinct {
		repository := fmt.Sprintf("bench/image-%02d", i)
		var digest string
		var err error
		if i < imagesIndexes {
			digest, err = f.registry.PushIndex(ctx, repository, "v1", imagesPlatforms, true)
		} else {
			digest, err = f.registry.PushRandom(ctx, repository, "v1", 2, 1024)
		}
		if err != nil {
			return err
		}
		if err := f.registry.Tag(ctx, repository, "v1", "stable"); err != nil {
			return err
		}

		f.paths = append(f.paths,
			repository+":v1",
			repository+":stable",
			repository+"@"+digest,
			repository+":v1@"+digest)
		for range imagesReferencesPerImage {
			f.digests = append(f.digests, digest)
		}
	}
	return nil
}

// imagesWriteAuthFile writes a docker config file with the registry's credentials for the
// registry's own address and for proxyHost.
func imagesWriteAuthFile(dir string, registry *testregistry.Registry, proxyHost string) (
	string, error) {
	document, err := dockerconfig.Encode([]dockerconfig.Entry{
		{Server: registry.Host, Username: registry.Username, Password: registry.Password},
		{Server: proxyHost, Username: registry.Username, Password: registry.Password},
	})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "auth.json")
	if err := os.WriteFile(path, document, 0o600); err != nil {
		return "", err
	}
	return path, nil
}

func imagesDiscardLog(string, ...any) {}
