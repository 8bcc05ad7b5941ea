package notify_test

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/altynpay/altyn/server/notify"
)

// A receiver checks an altyn-format notification with Verify: the exact
// body bytes, the Altyn-Signature header, the API secret, and a tolerance
// that refuses replays of old notifications.
func ExampleVerify() {
	secret := "sk_test_secret"
	body := []byte(`{"id":"evt_5xk4q3uyz2jzqg3x6h7m4yqq","type":"Pay"}`)
	header := notify.Sign(secret, body, time.Unix(1767225600, 0)) // what altyn sends
	fmt.Println(header)

	fmt.Println(notify.Verify(secret, header, body, 5*time.Minute, time.Unix(1767225660, 0)))
	fmt.Println(notify.Verify(secret, header, body, 5*time.Minute, time.Unix(1767229200, 0)))
	fmt.Println(notify.Verify(secret, header, []byte(`{"id":"evt_forged"}`), 5*time.Minute, time.Unix(1767225660, 0)))
	// Output:
	// t=1767225600, v1=ece9dbfd4d94e5591022e9f0c9dc36540936e3b5eebda0507d9f2af8225a8bb7
	// <nil>
	// notify: signature timestamp outside tolerance
	// notify: signature does not match
}

// A merchant's handler: verify, deduplicate by Altyn-Event-Id, answer {"code":0}.
func ExampleVerify_handler() {
	secret := "sk_…"          // the merchant's API secret
	seen := map[string]bool{} // stands for the merchant's database
	http.HandleFunc("POST /altyn/notifications", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || notify.Verify(secret, r.Header.Get(notify.SignatureHeader), body, 5*time.Minute, time.Now()) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if id := r.Header.Get(notify.EventIDHeader); !seen[id] {
			seen[id] = true
			// … record the payment …
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"code":0}`)
	})
}
