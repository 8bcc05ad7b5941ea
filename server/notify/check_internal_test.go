package notify

import (
	"testing"
	"time"
)

// FuzzCheckAnswer: whatever a Check endpoint answers, only a 2xx with code
// 0 accepts the payment, and nothing panics.
func FuzzCheckAnswer(f *testing.F) {
	for _, s := range []string{`{"code":0}`, `{"code":"0"}`, `{"code":12}`, `{"code":null}`, `{}`, `OK`, `{"code":0.5}`, `{"code":"00"}`, ` {"code": 0} `} {
		f.Add(200, []byte(s))
	}
	f.Add(500, []byte(`{"code":0}`))
	f.Fuzz(func(t *testing.T, status int, answer []byte) {
		res := checkResult(status, answer, nil, time.Second)
		if res.Accept {
			code, ok, err := answerCode(answer)
			if status < 200 || status > 299 || err != nil || !ok || code != 0 {
				t.Errorf("accepted HTTP %d %q", status, answer)
			}
			return
		}
		if res.ReasonCode != CheckReasonCode || res.Reason == "" {
			t.Errorf("declined HTTP %d %q with %d %q", status, answer, res.ReasonCode, res.Reason)
		}
	})
}

func TestSnake(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"AccountID": "account_id", "NextTransactionDate": "next_transaction_date", "ID": "id",
		"account_id": "account_id", "accountId": "account_id", "HTTPStatus": "http_status", "MaxPeriods": "max_periods",
	} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}
