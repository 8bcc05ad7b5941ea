package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/altynpay/altyn/store"
)

// request is one notification ready to go over HTTP.
type request struct {
	method string
	url    string
	body   []byte
	header http.Header
}

// render makes the HTTP request of ev in format, signed with the
// merchant's API secret at now.
func render(ev *event, m *store.Merchant, secret, format, method, target string, now time.Time) (*request, error) {
	r := &request{method: method, url: target, header: http.Header{}}
	if r.method == "" {
		r.method = http.MethodPost
	}
	r.header.Set("User-Agent", "altyn-notify/1")
	r.header.Set(EventIDHeader, ev.ID)
	r.header.Set(EventTypeHeader, ev.Type)
	switch format {
	case FormatAltyn, "":
		body, err := altynBody(ev)
		if err != nil {
			return nil, err
		}
		r.body = body
		r.header.Set("Content-Type", "application/json")
		r.header.Set(SignatureHeader, Sign(secret, body, now))
	case FormatCloudPayments, FormatCloudPaymentsJSON:
		f, err := cpFieldsOf(ev, m)
		if err != nil {
			return nil, err
		}
		form := format == FormatCloudPayments
		var msg []byte
		if form {
			msg = f.form()
			r.header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		} else {
			msg = f.json()
			r.header.Set("Content-Type", "application/json; charset=utf-8")
		}
		if r.method == http.MethodGet {
			// The fields travel as the query string, after any query the
			// merchant's URL has; the whole query string is signed, as the
			// receiver sees it.
			base, query, _ := strings.Cut(target, "?")
			if query != "" {
				msg = append([]byte(query+"&"), msg...)
			}
			r.url = base + "?" + string(msg)
			r.header.Del("Content-Type")
		} else {
			r.body = msg
		}
		r.header.Set("Content-HMAC", ContentHMAC(secret, msg))
		r.header.Set("X-Content-HMAC", xContentHMAC(secret, msg, form))
	case FormatEcommpay:
		body, err := ecommpayBody(ev, m, secret)
		if err != nil {
			return nil, err
		}
		r.body = body
		r.header.Set("Content-Type", "application/json")
	default:
		return nil, fmt.Errorf("unknown format %q", format)
	}
	return r, nil
}

// maxAnswer bounds how much of a receiver's answer is read.
const maxAnswer = 64 << 10

// do sends r and returns the HTTP status and the start of the answer.
func (n *Notifier) do(ctx context.Context, r *request) (int, []byte, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return 0, nil, permanent(fmt.Errorf("bad request: %w", err))
	}
	req.Header = r.header.Clone()
	resp, err := n.client.Do(req)
	if err != nil {
		return 0, nil, describeHTTPError(ctx, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return resp.StatusCode, answer, describeHTTPError(ctx, err)
	}
	return resp.StatusCode, answer, nil
}

// describeHTTPError names a failed exchange without the URL (which
// url.Error repeats and the log already has).
func describeHTTPError(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded {
		return errTimeout
	}
	if errors.Is(err, context.Canceled) {
		return context.Canceled
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return fmt.Errorf("unreachable: %w", inner)
		}
	}
	return fmt.Errorf("unreachable: %w", err)
}

// errTimeout: the receiver did not answer in time.
var errTimeout = errors.New("no answer in time")

// judge says whether a receiver accepted a notification: an HTTP 2xx and,
// when the answer is a JSON object with a "code" (CloudPayments' {"code":0}),
// code 0.
func judge(status int, answer []byte) error {
	if status < 200 || status > 299 {
		return fmt.Errorf("HTTP %d", status)
	}
	code, ok, err := answerCode(answer)
	if err == nil && ok && code != 0 {
		return fmt.Errorf("answered code %d", code)
	}
	return nil
}

// answerCode reads {"code": N} from an answer; N may be a number or a
// numeric string. ok is false when there is no code.
func answerCode(answer []byte) (code int, ok bool, err error) {
	var a struct {
		Code json.RawMessage `json:"code"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(answer), &a); err != nil {
		return 0, false, err
	}
	if len(a.Code) == 0 || string(a.Code) == "null" {
		return 0, false, nil
	}
	raw := strings.Trim(string(a.Code), `"`)
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, false, fmt.Errorf("code %s is not a number", a.Code)
	}
	return n, true, nil
}

// permanentError is a failure no retry can fix (an unreadable outbox row,
// a format that cannot express the event): the delivery is given up.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return permanentError{err} }

func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
