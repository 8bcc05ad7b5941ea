package subscriptions

import (
	"testing"
	"time"
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 10, 0, 0, 0, time.UTC) }

func TestScheduleDue(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		sched Schedule
		want  []time.Time // periods Base, Base+1, …
	}{
		{"month from the 31st keeps the day", Schedule{Start: date(2031, 1, 31), Interval: Month, Period: 1},
			[]time.Time{date(2031, 1, 31), date(2031, 2, 28), date(2031, 3, 31), date(2031, 4, 30), date(2031, 5, 31)}},
		{"leap year", Schedule{Start: date(2032, 1, 31), Interval: Month, Period: 1},
			[]time.Time{date(2032, 1, 31), date(2032, 2, 29), date(2032, 3, 31)}},
		{"the 29th of February, yearly by 12 months", Schedule{Start: date(2032, 2, 29), Interval: Month, Period: 12},
			[]time.Time{date(2032, 2, 29), date(2033, 2, 28), date(2034, 2, 28), date(2035, 2, 28), date(2036, 2, 29)}},
		{"the 30th, quarterly", Schedule{Start: date(2031, 11, 30), Interval: Month, Period: 3},
			[]time.Time{date(2031, 11, 30), date(2032, 2, 29), date(2032, 5, 30), date(2032, 8, 30)}},
		{"over the year end", Schedule{Start: date(2031, 12, 31), Interval: Month, Period: 1},
			[]time.Time{date(2031, 12, 31), date(2032, 1, 31), date(2032, 2, 29)}},
		{"days", Schedule{Start: date(2031, 2, 27), Interval: Day, Period: 1},
			[]time.Time{date(2031, 2, 27), date(2031, 2, 28), date(2031, 3, 1)}},
		{"every 10 days", Schedule{Start: date(2031, 1, 25), Interval: Day, Period: 10},
			[]time.Time{date(2031, 1, 25), date(2031, 2, 4), date(2031, 2, 14)}},
		{"fortnightly", Schedule{Start: date(2031, 12, 25), Interval: Week, Period: 2},
			[]time.Time{date(2031, 12, 25), date(2032, 1, 8), date(2032, 1, 22)}},
		{"re-anchored at period 5", Schedule{Start: date(2031, 3, 31), Interval: Month, Period: 1, Base: 5},
			[]time.Time{date(2031, 3, 31), date(2031, 4, 30), date(2031, 5, 31)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for i, want := range c.want {
				n := c.sched.Base + i
				if got := c.sched.Due(n); !got.Equal(want) {
					t.Errorf("Due(%d) = %s, want %s", n, got.Format(time.DateOnly), want.Format(time.DateOnly))
				}
				// FirstFrom finds the period due at a date, and the next
				// one just after it.
				if got := c.sched.FirstFrom(want); got != n {
					t.Errorf("FirstFrom(%s) = %d, want %d", want.Format(time.DateOnly), got, n)
				}
				if got := c.sched.FirstFrom(want.Add(time.Second)); got != n+1 {
					t.Errorf("FirstFrom(%s + 1s) = %d, want %d", want.Format(time.DateOnly), got, n+1)
				}
			}
		})
	}
}

func TestFirstFromFarAhead(t *testing.T) {
	t.Parallel()
	for _, s := range []Schedule{
		{Start: date(2031, 1, 31), Interval: Month, Period: 1},
		{Start: date(2031, 1, 31), Interval: Month, Period: 5, Base: 3},
		{Start: date(2031, 1, 31), Interval: Day, Period: 3},
		{Start: date(2031, 1, 31), Interval: Week, Period: 1, Base: 1},
	} {
		for _, at := range []time.Time{date(2020, 1, 1), date(2031, 1, 31), date(2040, 7, 15), date(2099, 12, 31)} {
			n := s.FirstFrom(at)
			if n < s.Base || s.Due(n).Before(at) || n > s.Base && !s.Due(n-1).Before(at) {
				t.Errorf("%+v: FirstFrom(%s) = %d (due %s)", s, at.Format(time.DateOnly), n, s.Due(n).Format(time.DateOnly))
			}
		}
	}
}
