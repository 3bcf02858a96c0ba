package benchmarks

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// imagesChunkSize is the read buffer of the latency proxy. A small request, such as the GET
// requests of a look-up, usually arrives in one read, so it is held and forwarded as one
// chunk.
const imagesChunkSize = 32 << 10

// imagesLatencyProxy is a TCP proxy on 127.0.0.1 that forwards every connection to one
// target and holds the bytes that the client sends for a fixed delay before forwarding them.
// Every round trip through it, TLS handshakes included, therefore takes at least the delay
// longer, as with a registry across a network. Replies pass without delay, and throughput is
// not limited. It forwards TLS as it is, so the client verifies the target's certificate.
type imagesLatencyProxy struct {
	// Host is the proxy's address, "127.0.0.1:PORT".
	Host string

	listener net.Listener
	target   string
	delay    time.Duration

	mutex       sync.Mutex
	connections map[net.Conn]struct{}
	closed      bool
	handlers    sync.WaitGroup
}

// imagesStartLatencyProxy listens on a free port of 127.0.0.1 and forwards to target. It
// rejects a target that is not a loopback IP address and port.
func imagesStartLatencyProxy(target string, delay time.Duration) (*imagesLatencyProxy, error) {
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return nil, fmt.Errorf("invalid proxy target %q: %w", target, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("invalid proxy target %q: expected a loopback IP address", target)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	proxy := &imagesLatencyProxy{
		Host:        listener.Addr().String(),
		listener:    listener,
		target:      target,
		delay:       delay,
		connections: map[net.Conn]struct{}{},
	}
	proxy.handlers.Go(proxy.serve)
	return proxy, nil
}

func (p *imagesLatencyProxy) serve() {
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		p.handlers.Go(func() { p.forward(client) })
	}
}

// forward connects client to the target and copies both directions until both end. An
// error in either direction closes both connections.
func (p *imagesLatencyProxy) forward(client net.Conn) {
	if !p.track(client) {
		client.Close()
		return
	}
	defer p.untrack(client)
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(server) {
		client.Close()
		server.Close()
		return
	}
	defer p.untrack(server)

	var closeOnce sync.Once
	closeBoth := func() {
		closeOnce.Do(func() {
			client.Close()
			server.Close()
		})
	}
	var directions sync.WaitGroup
	directions.Go(func() {
		if p.copyDelayed(server, client) != nil {
			closeBoth()
			return
		}
		closeWrite(server)
	})
	directions.Go(func() {
		if _, err := io.Copy(client, server); err != nil {
			closeBoth()
			return
		}
		closeWrite(client)
	})
	directions.Wait()
	closeBoth()
}

// closeWrite half-closes connection, so that its peer reads EOF where it would without the
// proxy.
func closeWrite(connection net.Conn) {
	if tcp, ok := connection.(*net.TCPConn); ok {
		tcp.CloseWrite()
	}
}

// imagesChunk is data read from the client and the time it may be forwarded.
type imagesChunk struct {
	data []byte
	due  time.Time
}

// copyDelayed copies src to dst and writes each chunk p.delay after it was read. Reading goes
// on while earlier chunks wait, so the delay adds latency without limiting throughput. It
// returns nil at the end of src.
func (p *imagesLatencyProxy) copyDelayed(dst, src net.Conn) error {
	chunks := make(chan imagesChunk, 256)
	readErr := make(chan error, 1)
	go func() {
		defer close(chunks)
		for {
			buffer := make([]byte, imagesChunkSize)
			n, err := src.Read(buffer)
			if n > 0 {
				chunks <- imagesChunk{data: buffer[:n], due: time.Now().Add(p.delay)}
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				readErr <- err
				return
			}
		}
	}()

	var writeErr error
	for chunk := range chunks {
		if writeErr != nil {
			// Drain the channel, so that the reader never blocks on it. The reader ends
			// because src is closed.
			continue
		}
		time.Sleep(time.Until(chunk.due))
		if _, err := dst.Write(chunk.data); err != nil {
			writeErr = err
			src.Close()
		}
	}
	return errors.Join(writeErr, <-readErr)
}

func (p *imagesLatencyProxy) track(connection net.Conn) bool {
	p.mutex.Lock()
	defer p.mutex.Unlock()
	if p.closed {
		return false
	}
	p.connections[connection] = struct{}{}
	return true
}

func (p *imagesLatencyProxy) untrack(connection net.Conn) {
	p.mutex.Lock()
	defer p.mutex.Unlock()
	delete(p.connections, connection)
}

// Close stops accepting, closes every open connection and waits for the handlers to end.
func (p *imagesLatencyProxy) Close() error {
	err := p.listener.Close()
	p.mutex.Lock()
	p.closed = true
	for connection := range p.connections {
		connection.Close()
	}
	p.mutex.Unlock()
	p.handlers.Wait()
	return err
}

// imagesConnectionCounter is a listener on 127.0.0.1 that closes every connection it
// accepts and counts them.
type imagesConnectionCounter struct {
	// Host is the listener's address, "127.0.0.1:PORT".
	Host        string
	listener    net.Listener
	connections atomic.Int64
	accepting   sync.WaitGroup
}

func imagesStartConnectionCounter() (*imagesConnectionCounter, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	counter := &imagesConnectionCounter{Host: listener.Addr().String(), listener: listener}
	counter.accepting.Go(func() {
		for {
			connection, err := listener.Accept()
			if err != nil {
				return
			}
			counter.connections.Add(1)
			connection.Close()
		}
	})
	return counter, nil
}

// Close stops the listener and waits until it no longer accepts.
func (c *imagesConnectionCounter) Close() error {
	err := c.listener.Close()
	c.accepting.Wait()
	return err
}
