package subscriptions

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/altynpay/altyn/server/payments"
)

func TestPlanInData(t *testing.T) {
	t.Parallel()
	start := time.Date(2031, 2, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		data     string
		currency string
		want     *Plan
		field    string // of the error, if any
	}{
		{`{"name":"x"}`, "RUB", nil, ""},
		{`{"recurrent":null}`, "RUB", nil, ""},
		{`{"cloudPayments":{"recurrent":{"interval":"Month","period":1,"amount":1000,"maxPeriods":6}}}`, "RUB",
			&Plan{Interval: Month, Period: 1, Amount: 100000, MaxPeriods: 6}, ""},
		{`{"CloudPayments":{"recurrent":{"interval":"week","period":"2","amount":"10.5","startDate":"2031-02-01"}}}`, "RUB",
			&Plan{Interval: Week, Period: 2, Amount: 1050, StartAt: &start}, ""},
		{`{"recurrent":{"interval":"DAY","start_date":"2031-02-01T00:00:00Z","max_periods":3}}`, "JPY",
			&Plan{Interval: Day, Period: 1, StartAt: &start, MaxPeriods: 3}, ""},
		{`{"recurrent":{"interval":"Day","amount":5}}`, "JPY", &Plan{Interval: Day, Period: 1, Amount: 5}, ""},
		{`{"recurrent":{"interval":"Day","amount":5.5}}`, "JPY", nil, "data.recurrent.amount"},
		{`{"recurrent":{"interval":"Day","amount":"1.234"}}`, "KWD", &Plan{Interval: Day, Period: 1, Amount: 1234}, ""},
		{`{"recurrent":{"interval":"Year"}}`, "RUB", nil, "data.recurrent.interval"},
		{`{"recurrent":{"period":1}}`, "RUB", nil, "data.recurrent.interval"},
		{`{"recurrent":{"interval":"Month","period":1.5}}`, "RUB", nil, "data.recurrent.period"},
		{`{"recurrent":{"interval":"Month","startDate":"tomorrow"}}`, "RUB", nil, "data.recurrent.start_date"},
		{`{"recurrent":"monthly"}`, "RUB", nil, "data.recurrent"},
	}
	for _, c := range cases {
		got, err := planInData(json.RawMessage(c.data), c.currency)
		var pe *payments.Error
		switch {
		case c.field != "":
			if !errors.As(err, &pe) || len(pe.Fields) != 1 || pe.Fields[0].Field != c.field {
				t.Errorf("planInData(%s): %v, want an error about %s", c.data, err, c.field)
			}
		case err != nil:
			t.Errorf("planInData(%s): %v", c.data, err)
		default:
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(c.want)
			if string(g) != string(w) {
				t.Errorf("planInData(%s) = %s, want %s", c.data, g, w)
			}
		}
	}
}

// FuzzPlanInData: whatever a payment's data holds, reading its plan never
// panics, and a plan it reads has a known interval and is checked.
func FuzzPlanInData(f *testing.F) {
	for _, s := range []string{
		`{"cloudPayments":{"recurrent":{"interval":"Month","period":1,"amount":1000,"maxPeriods":6}}}`,
		`{"recurrent":{"interval":"Day","amount":"10.50","startDate":"2031-01-31T10:00:00"}}`,
		`{"recurrent":{"interval":"week","period":"1e3","amount":-1}}`,
		`{"CloudPayments":{"recurrent":[]}}`, `[]`, `null`, `{"recurrent":{}}`,
	} {
		f.Add([]byte(s), "RUB")
	}
	f.Fuzz(func(t *testing.T, data []byte, currency string) {
		p, err := planInData(data, currency)
		if err != nil || p == nil {
			return
		}
		if !p.Interval.Valid() {
			t.Fatalf("plan with interval %q", p.Interval)
		}
		_ = p.check("data.recurrent.", time.Now())
	})
}
