package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// TestFeedNotifyAll: the changes of a bulk write reach a batch subscriber
// in one call and the others one by one, in subscription order.
func TestFeedNotifyAll(t *testing.T) {
	var f store.Feed
	var log []string
	f.Subscribe(func(_ context.Context, ch domain.Change) { log = append(log, "one:"+ch.Center.ID) })
	f.SubscribeAll(func(_ context.Context, ch domain.Change) { log = append(log, "single:"+ch.Center.ID) },
		func(_ context.Context, chs []domain.Change) {
			log = append(log, "all:"+chs[0].Center.ID+","+chs[1].Center.ID)
		})
	chs := []domain.Change{
		{Kind: domain.KindCenter, Center: &domain.Center{ID: "c1"}},
		{Kind: domain.KindCenter, Center: &domain.Center{ID: "c2"}},
	}
	f.NotifyAll(context.Background(), chs)
	require.Equal(t, []string{"one:c1", "one:c2", "all:c1,c2"}, log)
	log = nil
	f.Notify(context.Background(), chs[0])
	require.Equal(t, []string{"one:c1", "single:c1"}, log)
}
