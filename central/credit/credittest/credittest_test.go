package credittest_test

import (
	"testing"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/credit/credittest"
	"github.com/smartworkcenters/swc/central/domain"
)

func TestMemStore(t *testing.T) {
	credittest.Run(t, func(t *testing.T, events []domain.Event) credit.Store {
		s := credit.NewMemStore()
		s.AddEvents(events)
		return s
	})
}
