package store

import (
	"context"
	"sync"

	"github.com/smartworkcenters/swc/central/domain"
)

// Feed fans changes out to subscribers; its Notify method is an Options.Notify
// and its NotifyAll an Options.NotifyAll. Subscribers may come after the store
// is opened (the whitelist compiler needs the store before it can subscribe).
type Feed struct {
	mu   sync.RWMutex
	subs []subscriber
}

// subscriber takes changes one by one, and the changes of a bulk write at
// once when all is set.
type subscriber struct {
	one Notifier
	all BatchNotifier
}

// Subscribe adds fn to the receivers of every later change.
func (f *Feed) Subscribe(fn Notifier) { f.SubscribeAll(fn, nil) }

// SubscribeAll adds a receiver of every later change: one for single
// writes, all (when not nil) for the changes of a bulk write at once.
func (f *Feed) SubscribeAll(one Notifier, all BatchNotifier) {
	f.mu.Lock()
	f.subs = append(f.subs, subscriber{one: one, all: all})
	f.mu.Unlock()
}

// Notify hands ch to every subscriber in subscription order.
func (f *Feed) Notify(ctx context.Context, ch domain.Change) {
	f.mu.RLock()
	subs := f.subs
	f.mu.RUnlock()
	for _, s := range subs {
		s.one(ctx, ch)
	}
}

// NotifyAll hands the changes of one bulk write to every subscriber in
// subscription order: at once to those that take them so, one by one to
// the others.
func (f *Feed) NotifyAll(ctx context.Context, chs []domain.Change) {
	f.mu.RLock()
	subs := f.subs
	f.mu.RUnlock()
	for _, s := range subs {
		if s.all != nil {
			s.all(ctx, chs)
			continue
		}
		for _, ch := range chs {
			s.one(ctx, ch)
		}
	}
}
