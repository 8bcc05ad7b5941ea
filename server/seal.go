package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/altynpay/altyn/cryptogram"
	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/gen/altyn/v1/altynv1connect"
)

// sealCommand makes a cryptogram from the command line, as the widget does
// in the payer's browser: it fetches the merchant's public key from the
// public API and seals the card. It is for trying the API with test cards.
func sealCommand(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("seal", flag.ExitOnError)
	url := fs.String("url", env("ALTYN_URL", "http://127.0.0.1:8080"), "altyn's base URL")
	publicID := fs.String("public-id", "", "the merchant's public id (required)")
	card := fs.String("card", "", "the card number, e.g. a sandbox test card (required)")
	exp := fs.String("exp", time.Now().AddDate(2, 0, 0).Format("01/06"), "expiry MM/YY")
	cvv := fs.String("cvv", "123", "the CVV")
	name := fs.String("name", "", "the cardholder name")
	amount := fs.Int64("bind-amount", 0, "bind the cryptogram to this amount (minor units); 0 = unbound")
	currency := fs.String("bind-currency", "RUB", "currency of -bind-amount")
	invoice := fs.String("bind-invoice", "", "invoice id of -bind-amount")
	fs.Parse(args)
	if *publicID == "" || *card == "" {
		return errors.New("seal: -public-id and -card are required")
	}
	month, year, ok := strings.Cut(*exp, "/")
	if !ok {
		return errors.New("seal: -exp must be MM/YY")
	}
	c, err := cryptogram.ParseCard(*card, month, year, *cvv, *name, time.Now())
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	client := altynv1connect.NewCheckoutServiceClient(http.DefaultClient, strings.TrimRight(*url, "/"))
	res, err := client.GetPublicKey(ctx, connect.NewRequest(&altynv1.GetPublicKeyRequest{PublicId: *publicID}))
	if err != nil {
		return fmt.Errorf("seal: fetch public key: %w", err)
	}
	key, err := cryptogram.ParsePublicKey(res.Msg.PublicKey)
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	var opts cryptogram.SealOptions
	if *amount > 0 {
		opts.Binding = &cryptogram.Binding{Amount: *amount, Currency: *currency, InvoiceID: *invoice}
	}
	packet, err := cryptogram.Seal(key, *publicID, c, opts)
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	fmt.Println(packet)
	return nil
}
