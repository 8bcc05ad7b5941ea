package acquirer_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/altynpay/altyn/cryptogram"
	"github.com/altynpay/altyn/server/acquirer"
)

// The engine lost the answer to an authorization; it asks Status, finds the
// hold in place and captures it once.
func ExampleSandbox() {
	ctx := context.Background()
	s := acquirer.NewSandbox(acquirer.SandboxOptions{Secret: []byte("example secret")})
	s.Inject(acquirer.Fault{Op: acquirer.OpAuthorize, Kind: acquirer.FaultTimeoutAfter, Times: 1})

	_, err := s.Authorize(ctx, acquirer.AuthorizeRequest{
		OpID:     "pay_1:auth",
		Card:     cryptogram.Card{PAN: "4000000000003055", ExpMonth: 12, ExpYear: 2099},
		Amount:   150000,
		Currency: "RUB",
	})
	fmt.Println("timeout:", errors.Is(err, acquirer.ErrTimeout))

	st, _ := s.Status(ctx, "pay_1:auth")
	fmt.Println("state:", st.State, st.Amount, st.Currency)

	_ = s.Capture(ctx, "pay_1:auth", 100000)
	l, _ := s.Ledger("pay_1:auth")
	fmt.Println("holds:", l.Holds, "captured:", l.Captured, "state:", l.State)
	fmt.Println(acquirer.ReasonName(5051), "/", acquirer.CardHolderMessage(5051, "ru-RU"))
	// Output:
	// timeout: true
	// state: Authorized 150000 RUB
	// holds: 1 captured: 100000 state: Completed
	// InsufficientFunds / Недостаточно средств на карте.
}
