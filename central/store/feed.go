package store

import (
	"context"
	"sync"

	"github.com/smartworkcenters/swc/central/domain"
)

// Feed fans changes out to subscribers; its Notify method is an Options.Notify.
// Subscribers may come after the store is opened (the whitelist compiler
// needs the store before it can subscribe).
type Feed struct {
	mu   sync.RWMutex
	subs []Notifier
}

// Subscribe adds fn to the receivers of every later change.
func (f *Feed) Subscribe(fn Notifier) {
	f.mu.Lock()
	f.subs = append(f.subs, fn)
	f.mu.Unlock()
}

// Notify hands ch to every subscriber in subscription order.
func (f *Feed) Notify(ctx context.Context, ch domain.Change) {
	f.mu.RLock()
	subs := f.subs
	f.mu.RUnlock()
	for _, fn := range subs {
		fn(ctx, ch)
	}
}
