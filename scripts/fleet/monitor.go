package main

import (
	"os"
	"sync"
	"time"

	"github.com/smartworkcenters/swc/scripts/internal/launch"
)

// monitor samples the central's resource use (across restarts, which
// change its process) and the fleet's resident memory (its own process and
// its workers').
type monitor struct {
	c       *launch.Central
	workers []int
	done    chan struct{}
	wg      sync.WaitGroup

	mu        sync.Mutex
	pid       int
	last      launch.Usage // the latest sample of pid
	cpuBefore float64      // CPU seconds of the central's earlier processes
	cpuStart  float64      // CPU seconds when the monitor started
	peak      uint64
	fleetMax  uint64

	onPeak   func(rss uint64) // called (from the sampling goroutine) when the central's RSS reaches a new high
	peakTold uint64           // the RSS onPeak was last called with
}

// peakStep is how much the central's RSS must grow past the last reported
// high before onPeak is called again.
const peakStep = 16 << 20

func startMonitor(c *launch.Central, workers []int, onPeak func(rss uint64)) *monitor {
	m := &monitor{c: c, workers: workers, done: make(chan struct{}), onPeak: onPeak}
	m.sample()
	m.cpuStart = m.last.CPUSeconds
	m.wg.Go(func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-m.done:
				return
			case <-t.C:
				m.sample()
				m.reportPeak()
			}
		}
	})
	return m
}

func (m *monitor) stop() {
	close(m.done)
	m.wg.Wait()
}

// sample reads the central's and the fleet's figures now.
func (m *monitor) sample() {
	m.mu.Lock()
	defer m.mu.Unlock()
	var fleet uint64
	for _, pid := range append([]int{os.Getpid()}, m.workers...) {
		if u, err := launch.ProcessUsage(pid); err == nil {
			fleet += u.RSSBytes
		}
	}
	m.fleetMax = max(m.fleetMax, fleet)
	pid := m.c.PID()
	if pid == 0 || !m.c.Running() {
		return
	}
	u, err := launch.ProcessUsage(pid)
	if err != nil {
		return
	}
	if pid != m.pid {
		if m.pid != 0 {
			m.cpuBefore += m.last.CPUSeconds
		}
		m.pid = pid
	}
	m.last = u
	m.peak = max(m.peak, u.PeakRSSBytes)
}

// reportPeak calls onPeak when the central's RSS grew by peakStep past
// the last high it reported.
func (m *monitor) reportPeak() {
	m.mu.Lock()
	rss := m.last.RSSBytes
	grew := m.onPeak != nil && rss >= m.peakTold+peakStep
	if grew {
		m.peakTold = rss
	}
	m.mu.Unlock()
	if grew {
		m.onPeak(rss)
	}
}

// central is the central's use since the monitor started: resident memory
// now, the peak over all its processes, and CPU seconds.
func (m *monitor) central() launch.Usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return launch.Usage{RSSBytes: m.last.RSSBytes, PeakRSSBytes: m.peak, CPUSeconds: m.cpuBefore + m.last.CPUSeconds - m.cpuStart}
}

// fleetPeak is the highest resident memory of the fleet's processes
// sampled (summed at each sample).
func (m *monitor) fleetPeak() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fleetMax
}
