// Package linkproxy is a TCP proxy on the loopback interface between a
// client and a server, that a test, the demo or the fleet simulator can cut,
// stall and restore to play a network link that fails.
package linkproxy

import (
	"fmt"
	"net"
	"sync"
)

// Proxy is a TCP proxy on 127.0.0.1 between a client and a server.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	cond    *sync.Cond
	state   proxyState
	conns   map[net.Conn]bool
	closed  bool
	wg      sync.WaitGroup
	accepts int
}

type proxyState int

const (
	proxyUp      proxyState = iota
	proxyCut                // connections dropped, new ones refused
	proxyStalled            // connections kept, no byte moves
)

// New listens on a free loopback port and forwards to target (host:port)
// until Close.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("link proxy to %s: %w", target, err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's address, host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Accepts counts the connections accepted so far.
func (p *Proxy) Accepts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepts
}

// Cut drops every connection and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.state = proxyCut
	for c := range p.conns {
		c.Close()
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

// Stall keeps connections open but moves no byte until Restore, like a link
// that went silent.
func (p *Proxy) Stall() {
	p.mu.Lock()
	p.state = proxyStalled
	p.mu.Unlock()
}

// Restore lets traffic flow again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.state = proxyUp
	p.cond.Broadcast()
	p.mu.Unlock()
}

// Close stops the proxy and drops every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.state == proxyCut || p.closed {
			p.mu.Unlock()
			in.Close()
			continue
		}
		p.accepts++
		p.mu.Unlock()
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns[in], p.conns[out] = true, true
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

// pipe copies src to dst, waiting while the link is stalled.
func (p *Proxy) pipe(src, dst net.Conn) {
	defer p.wg.Done()
	defer func() {
		src.Close()
		dst.Close()
		p.mu.Lock()
		delete(p.conns, src)
		delete(p.conns, dst)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.state == proxyStalled && !p.closed {
				p.cond.Wait()
			}
			dead := p.state == proxyCut || p.closed
			p.mu.Unlock()
			if dead {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
