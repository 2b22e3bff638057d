package mfrc522sim

import (
	"errors"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/pin"
)

// irqPin is the chip's IRQ output seen from the host: an input with edge
// detection. Edges are latched until WaitForEdge consumes them, as the Linux
// GPIO character device queues them.
type irqPin struct {
	s     *Sim
	level gpio.Level
	pull  gpio.Pull
	edge  gpio.Edge
	edges int // latched edges not yet consumed
}

// drive sets the level the chip outputs; s.mu is held.
func (p *irqPin) drive(l gpio.Level) {
	if l == p.level {
		return
	}
	p.level = l
	switch {
	case p.edge == gpio.BothEdges,
		p.edge == gpio.RisingEdge && l == gpio.High,
		p.edge == gpio.FallingEdge && l == gpio.Low:
		p.edges++
	}
}

func (p *irqPin) String() string   { return "MFRC522.IRQ" }
func (p *irqPin) Halt() error      { return nil }
func (p *irqPin) Name() string     { return "MFRC522.IRQ" }
func (p *irqPin) Number() int      { return -1 }
func (p *irqPin) Function() string { return "In" }
func (p *irqPin) Func() pin.Func   { return gpio.IN }

func (p *irqPin) SupportedFuncs() []pin.Func { return []pin.Func{gpio.IN} }

func (p *irqPin) SetFunc(f pin.Func) error {
	if f != gpio.IN {
		return errors.New("mfrc522sim: the IRQ pin is an input for the host")
	}
	return nil
}

// In arms edge detection and drops latched edges.
func (p *irqPin) In(pull gpio.Pull, edge gpio.Edge) error {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	p.pull, p.edge, p.edges = pull, edge, 0
	return nil
}

func (p *irqPin) Read() gpio.Level {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	p.s.chip.settle(p.s.now())
	return p.level
}

// WaitForEdge returns true at once if an edge was latched. Otherwise, if a
// chip event falls due within timeout, the virtual clock jumps to it (the host
// is waiting, so that time passes); else it blocks in wall time until another
// goroutine changes the chip or timeout passes. A negative timeout waits for
// ever.
func (p *irqPin) WaitForEdge(timeout time.Duration) bool {
	s := p.s
	var deadline <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	waited := time.Now()
	for {
		s.mu.Lock()
		s.chip.settle(s.now())
		if p.edges > 0 {
			p.edges--
			s.mu.Unlock()
			return true
		}
		if p.edge != gpio.NoEdge {
			if due, ok := s.chip.nextDue(); ok {
				left := timeout - time.Since(waited)
				if timeout < 0 || due-s.now() <= left {
					if d := due - s.now(); d > 0 {
						s.adv += d
					}
					s.chip.settle(s.now())
					s.notify()
					s.mu.Unlock()
					continue
				}
			}
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			return false
		}
	}
}

func (p *irqPin) Pull() gpio.Pull {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.pull
}

func (p *irqPin) DefaultPull() gpio.Pull { return gpio.Float }

func (p *irqPin) Out(gpio.Level) error {
	return errors.New("mfrc522sim: the IRQ pin is an output of the chip; the host can only read it")
}

func (p *irqPin) PWM(gpio.Duty, physic.Frequency) error {
	return errors.New("mfrc522sim: the IRQ pin has no PWM")
}

// resetPin is the chip's NRSTPD input seen from the host: an output.
type resetPin struct {
	s     *Sim
	level gpio.Level
}

func (p *resetPin) String() string             { return "MFRC522.NRSTPD" }
func (p *resetPin) Halt() error                { return nil }
func (p *resetPin) Name() string               { return "MFRC522.NRSTPD" }
func (p *resetPin) Number() int                { return -1 }
func (p *resetPin) Function() string           { return "Out" }
func (p *resetPin) Func() pin.Func             { return gpio.OUT }
func (p *resetPin) SupportedFuncs() []pin.Func { return []pin.Func{gpio.OUT} }
func (p *resetPin) SetFunc(f pin.Func) error {
	if f != gpio.OUT {
		return errors.New("mfrc522sim: NRSTPD is driven by the host")
	}
	return nil
}

// Out drives NRSTPD: low powers the chip down, the rising edge resets it.
func (p *resetPin) Out(l gpio.Level) error {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chip.settle(s.now())
	if l != p.level {
		p.level = l
		s.chip.hardReset(l == gpio.Low)
		s.chip.settle(s.now())
		s.notify()
	}
	return nil
}

func (p *resetPin) In(gpio.Pull, gpio.Edge) error {
	return errors.New("mfrc522sim: NRSTPD is an input of the chip; drive it with Out")
}

func (p *resetPin) Read() gpio.Level {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.level
}

func (p *resetPin) WaitForEdge(time.Duration) bool { return false }
func (p *resetPin) Pull() gpio.Pull                { return gpio.PullNoChange }
func (p *resetPin) DefaultPull() gpio.Pull         { return gpio.PullNoChange }

func (p *resetPin) PWM(gpio.Duty, physic.Frequency) error {
	return errors.New("mfrc522sim: NRSTPD has no PWM")
}

var (
	_ gpio.PinIO = (*irqPin)(nil)
	_ gpio.PinIO = (*resetPin)(nil)
)
