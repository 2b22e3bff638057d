package credit_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// The central's wiring: the ingest commits events, then hands them to the
// ledger; the API and the command line read settlements and statements.
func ExampleLedger() {
	ctx := context.Background()
	cfg, err := credit.DefaultConfig(1000) // 10.00 an hour by default
	if err != nil {
		panic(err)
	}
	dir := credit.NewDirectory(
		[]domain.Center{{ID: "gent", Name: "Gent", TimeZone: "Europe/Brussels", Hours: everyDay(8*60, 18*60)}},
		[]domain.Door{{ID: "gent-in", CenterID: "gent", Name: "entrance"}, {ID: "gent-out", CenterID: "gent", Name: "exit", Exit: true}},
		[]domain.Member{{ID: "ann", Name: "Ann", Status: domain.MemberActive}},
		nil,
		[]domain.Pass{{ID: "p1", MemberID: "ann", ValidFrom: at("2026-11-01 00:00"), ValidUntil: at("2026-12-01 00:00")}},
	)
	store := credit.NewMemStore() // the central implements credit.Store on SQLite or PostgreSQL
	ledger, err := credit.NewLedger(cfg, store)
	if err != nil {
		panic(err)
	}
	tap := func(door string, seq uint64, when string) domain.Event {
		t := at(when)
		return domain.Event{Door: door, ReceivedMs: t.Add(time.Second).UnixMilli(), Event: protocol.Event{
			Seq: seq, TimeMs: t.UnixMilli(), Trusted: true, Boot: "b1", Kind: protocol.EventTap,
			UID: "04A1B2C3", Member: "ann", Reason: protocol.GrantedPass}}
	}
	events := []domain.Event{tap("gent-in", 1, "2026-11-10 09:05"), tap("gent-out", 1, "2026-11-10 11:10")}
	store.AddEvents(events) // the ingest's commit
	if _, err := ledger.Update(ctx, dir, events); err != nil {
		panic(err)
	}

	p, err := credit.ParsePeriod("2026-11") // swc-central settle --period 2026-11 --format csv
	if err != nil {
		panic(err)
	}
	s, err := ledger.Settlement(ctx, dir, p)
	if err != nil {
		panic(err)
	}
	if err := s.Write(os.Stdout, credit.FormatCSV); err != nil {
		panic(err)
	}
	st, err := ledger.Statement(ctx, dir, "ann", p)
	if err != nil {
		panic(err)
	}
	fmt.Println(st.CreditedMinutes, "minutes for", st.Name)
	// Output:
	// period,closed,line,center_id,class,counterpart_center_id,belongs_to,minutes,hours,rate_cents,amount_cents
	// 2026-11,false,credit,gent,nomadic,,,135,2.25,1000,2250
	// 2026-11,false,credit,gent,cross_center,,,0,0.00,1000,0
	// 2026-11,false,own_staff_bookings,gent,,,,0,0.00,,
	// 2026-11,false,total,gent,,,,,,,2250
	// 135 minutes for Ann
}
