package main

import (
	"fmt"
	"io"
	"net"
	"sync"
)

// link is one door's network path to the broker: a TCP proxy on a loopback
// port of its own that the fleet can cut (every connection dropped, new ones
// refused) and restore, as a center's internet line would fail.
type link struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	done  bool
	wg    sync.WaitGroup
}

// linkBuffer is the copy buffer of each direction: small, because a fleet
// holds thousands of links, and MQTT frames are copied in pieces anyway.
const linkBuffer = 8 << 10

// openLink listens on a free loopback port and forwards to target.
func openLink(target string) (*link, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("link to %s: %w", target, err)
	}
	l := &link{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	l.wg.Add(1)
	go l.accept()
	return l, nil
}

// Addr is where the door connects, host:port.
func (l *link) Addr() string { return l.ln.Addr().String() }

// Cut drops the door's connections and refuses new ones until Restore.
func (l *link) Cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = true
	for c := range l.conns {
		c.Close()
	}
}

// Restore lets the door connect again.
func (l *link) Restore() {
	l.mu.Lock()
	l.cut = false
	l.mu.Unlock()
}

// Close stops the proxy and drops every connection.
func (l *link) Close() {
	l.mu.Lock()
	if l.done {
		l.mu.Unlock()
		return
	}
	l.done = true
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.ln.Close()
	l.wg.Wait()
}

func (l *link) accept() {
	defer l.wg.Done()
	for {
		in, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		refused := l.cut || l.done
		l.mu.Unlock()
		if refused {
			in.Close()
			continue
		}
		out, err := net.Dial("tcp", l.target)
		if err != nil {
			in.Close() // the broker is down: the door sees its connection fail
			continue
		}
		l.mu.Lock()
		if l.cut || l.done {
			l.mu.Unlock()
			in.Close()
			out.Close()
			continue
		}
		l.conns[in], l.conns[out] = struct{}{}, struct{}{}
		l.mu.Unlock()
		l.wg.Add(2)
		go l.pipe(in, out)
		go l.pipe(out, in)
	}
}

// pipe copies src to dst until either side ends; then both are closed.
func (l *link) pipe(src, dst net.Conn) {
	defer l.wg.Done()
	buf := make([]byte, linkBuffer)
	_, _ = io.CopyBuffer(onlyWriter{dst}, onlyReader{src}, buf)
	src.Close()
	dst.Close()
	l.mu.Lock()
	delete(l.conns, src)
	delete(l.conns, dst)
	l.mu.Unlock()
}

// onlyReader and onlyWriter hide ReadFrom/WriteTo so that io.CopyBuffer
// uses the small buffer given, not one of its own.
type onlyReader struct{ io.Reader }
type onlyWriter struct{ io.Writer }
