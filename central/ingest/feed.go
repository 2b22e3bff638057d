package ingest

import "sync"

// CommitFeed hands every commit of the ingest to several receivers: set
// Config.Committed to a feed's Notify and Subscribe each receiver (the
// hours ledger, the dashboard's live events). Receivers run on the ingest's
// writer, one after the other, and must not block.
type CommitFeed struct {
	mu   sync.RWMutex
	subs []func(receivedMs int64, batches []Batch)
}

// Subscribe adds fn to the receivers of every later commit.
func (f *CommitFeed) Subscribe(fn func(receivedMs int64, batches []Batch)) {
	f.mu.Lock()
	f.subs = append(f.subs, fn)
	f.mu.Unlock()
}

// Notify hands a commit to every receiver in subscription order. Receivers
// share the batches and must not modify them.
func (f *CommitFeed) Notify(receivedMs int64, batches []Batch) {
	f.mu.RLock()
	subs := f.subs
	f.mu.RUnlock()
	for _, fn := range subs {
		fn(receivedMs, batches)
	}
}
