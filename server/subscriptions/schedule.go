package subscriptions

import (
	"time"
)

// Interval is the unit of a schedule (CloudPayments' Interval).
type Interval string

// The intervals.
const (
	Day   Interval = "Day"
	Week  Interval = "Week"
	Month Interval = "Month"
)

// Valid reports whether i is one of the intervals.
func (i Interval) Valid() bool { return i == Day || i == Week || i == Month }

// Schedule is when a subscription's periods fall due: period Base at
// Start, and period n every Period intervals later. Every date is computed
// from Start, never from the previous date, so months keep Start's day of
// the month where it exists and take the month's last day where it does
// not: a schedule from 31 January falls due on 28 (or 29) February and 31
// March, not 28 March. Times are UTC.
type Schedule struct {
	Start    time.Time
	Interval Interval
	Period   int
	Base     int
}

// Due is when period n falls due (n may be below Base: the dates before Start).
func (s Schedule) Due(n int) time.Time {
	k := (n - s.Base) * s.Period
	start := s.Start.UTC()
	switch s.Interval {
	case Day:
		return start.AddDate(0, 0, k)
	case Week:
		return start.AddDate(0, 0, 7*k)
	default:
		return addMonths(start, k)
	}
}

// FirstFrom is the first period, not before Base, that falls due at or after t.
func (s Schedule) FirstFrom(t time.Time) int {
	if !t.After(s.Start) {
		return s.Base
	}
	// An estimate from the elapsed time, then corrected by the dates themselves.
	var n int
	switch s.Interval {
	case Day:
		n = int(t.Sub(s.Start) / (24 * time.Hour) / time.Duration(s.Period))
	case Week:
		n = int(t.Sub(s.Start) / (7 * 24 * time.Hour) / time.Duration(s.Period))
	default:
		months := (t.Year()-s.Start.Year())*12 + int(t.Month()) - int(s.Start.Month())
		n = months / s.Period
	}
	n += s.Base
	for n > s.Base && !s.Due(n-1).Before(t) {
		n--
	}
	for s.Due(n).Before(t) {
		n++
	}
	return n
}

// addMonths adds k months to t keeping its day of the month, or the last
// day of the month where the month is shorter.
func addMonths(t time.Time, k int) time.Time {
	y, m, d := t.Date()
	total := int(m) - 1 + k
	y += floorDiv(total, 12)
	month := time.Month(total - floorDiv(total, 12)*12 + 1)
	if last := daysIn(y, month); d > last {
		d = last
	}
	hh, mm, ss := t.Clock()
	return time.Date(y, month, d, hh, mm, ss, t.Nanosecond(), t.Location())
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// daysIn is the number of days of a month.
func daysIn(year int, month time.Month) int {
	return time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
