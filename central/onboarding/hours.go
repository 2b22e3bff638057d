package onboarding

import (
	"fmt"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
)

var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func day(s string) (time.Weekday, error) {
	for i, n := range dayNames {
		if strings.EqualFold(s, n) {
			return time.Weekday(i), nil
		}
	}
	return 0, fmt.Errorf("%q is not a day (sun, mon, tue, wed, thu, fri, sat)", s)
}

// ParseHours reads a center's opening hours in the CSV form: groups
// separated by ";", each days then spans, such as
// "mon-fri 08:00-12:30 13:30-18:00; sat 09:00-12:00". Days are a day, a
// range (mon-fri; mon-sun and fri-mon run over the week's end) or a list
// (mon,wed); a span closes at 24:00 at the latest. Empty is closed every day. Spans are checked by
// domain.OpeningHours.Validate when the center is.
func ParseHours(s string) (domain.OpeningHours, error) {
	var h domain.OpeningHours
	for _, group := range strings.Split(s, ";") {
		fields := strings.Fields(group)
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 2 {
			return h, fmt.Errorf("%q: want days then spans, such as mon-fri 08:00-18:00", strings.TrimSpace(group))
		}
		var days []time.Weekday
		for _, part := range strings.Split(fields[0], ",") {
			from, to, isRange := strings.Cut(part, "-")
			a, err := day(from)
			if err != nil {
				return h, err
			}
			z := a
			if isRange {
				if z, err = day(to); err != nil {
					return h, err
				}
			}
			for d := a; ; d = (d + 1) % 7 { // a range may run over the week's end: fri-mon, mon-sun
				days = append(days, d)
				if d == z {
					break
				}
			}
		}
		for _, span := range fields[1:] {
			o, c, ok := strings.Cut(span, "-")
			open, err1 := minutes(o)
			closing, err2 := minutes(c)
			if !ok || err1 != nil || err2 != nil {
				return h, fmt.Errorf("%q is not a span such as 08:00-18:00", span)
			}
			for _, d := range days {
				h[d] = append(h[d], domain.Span{Open: open, Close: closing})
			}
		}
	}
	return h, nil
}

func minutes(s string) (int, error) {
	var hh, mm int
	if _, err := fmt.Sscanf(s, "%d:%d", &hh, &mm); err != nil || len(s) != 5 || hh < 0 || hh > 24 || mm < 0 || mm > 59 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q is not a time of day HH:MM", s)
	}
	return hh*60 + mm, nil
}
