// Command goclient authorizes, captures and refunds a payment through
// altyn's generated Go client. Run it against a running altyn:
//
//	ALTYN_URL=http://127.0.0.1:8080 ALTYN_PUBLIC_ID=pk_… ALTYN_SECRET=sk_… go run ./examples/goclient
package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/altynpay/altyn/cryptogram"
	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/gen/altyn/v1/altynv1connect"
)

func main() {
	ctx := context.Background()
	url, publicID, secret := os.Getenv("ALTYN_URL"), os.Getenv("ALTYN_PUBLIC_ID"), os.Getenv("ALTYN_SECRET")

	// In production the widget seals the card in the payer's browser; here
	// we seal a sandbox test card ourselves with the merchant's public key.
	checkout := altynv1connect.NewCheckoutServiceClient(http.DefaultClient, url)
	key, err := checkout.GetPublicKey(ctx, connect.NewRequest(&altynv1.GetPublicKeyRequest{PublicId: publicID}))
	if err != nil {
		log.Fatal(err)
	}
	pub, err := cryptogram.ParsePublicKey(key.Msg.PublicKey)
	if err != nil {
		log.Fatal(err)
	}
	card := cryptogram.Card{PAN: "4000000000003055", ExpMonth: 12, ExpYear: time.Now().Year() + 2, CVV: "123"}
	packet, err := cryptogram.Seal(pub, publicID, card, cryptogram.SealOptions{})
	if err != nil {
		log.Fatal(err)
	}

	// The private API authenticates with HTTP Basic: public id and API secret.
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(publicID+":"+secret))
	payments := altynv1connect.NewPaymentServiceClient(http.DefaultClient, url,
		connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set("Authorization", auth)
				return next(ctx, req)
			}
		})))

	auth1, err := payments.Authorize(ctx, connect.NewRequest(&altynv1.AuthorizeRequest{
		Amount:         &altynv1.Money{Amount: 150000, Currency: "RUB"}, // 1500.00 RUB
		Cryptogram:     packet,
		InvoiceId:      "order-1001",
		Description:    "Order 1001",
		IdempotencyKey: "order-1001-authorize",
	}))
	if err != nil {
		log.Fatal(err)
	}
	p := auth1.Msg.Payment
	fmt.Println("authorize:", p.Id, p.Status)

	captured, err := payments.Capture(ctx, connect.NewRequest(&altynv1.CaptureRequest{PaymentId: p.Id, Amount: proto.Int64(120000)}))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("capture:", captured.Msg.Payment.Status, captured.Msg.Payment.CapturedAmount)

	refunded, err := payments.Refund(ctx, connect.NewRequest(&altynv1.RefundRequest{PaymentId: p.Id, Amount: proto.Int64(20000)}))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("refund:", refunded.Msg.Refund.Id != "", refunded.Msg.Payment.RefundedAmount)
}
