package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/altynpay/altyn/server/app"
	"github.com/altynpay/altyn/server/notify"
)

// notifyConfig is the notifier's configuration from the environment: the
// SMTP relay of e-mail notifications; the rest keeps notify's defaults.
func notifyConfig() notify.Config {
	return notify.Config{SMTP: notify.SMTPConfig{
		Addr:     os.Getenv("ALTYN_SMTP_ADDR"),
		From:     os.Getenv("ALTYN_SMTP_FROM"), // default altyn@localhost
		Username: os.Getenv("ALTYN_SMTP_USERNAME"),
		Password: os.Getenv("ALTYN_SMTP_PASSWORD"),
	}}
}

// notifyCommand shows or changes a merchant's notification settings:
//
//	merchant notify -public-id pk_…                                    list every type
//	merchant notify -public-id pk_… -type Pay -url https://… -format cloudpayments
//	merchant notify -public-id pk_… -type Pay -email shop@example.com
//	merchant notify -public-id pk_… -type Check -enabled=false
func notifyCommand(ctx context.Context, a *app.App, args []string) error {
	fs := flag.NewFlagSet("merchant notify", flag.ExitOnError)
	publicID := fs.String("public-id", "", "the merchant's public id (required)")
	typ := fs.String("type", "", "the notification type: "+strings.Join(notify.Types, ", ")+"; without it, the settings are listed")
	url := fs.String("url", "", "the endpoint, an absolute http(s) URL")
	format := fs.String("format", notify.FormatAltyn, "the body format: "+strings.Join(notify.Formats, ", "))
	method := fs.String("method", "POST", "POST, or GET (cloudpayments format only)")
	email := fs.String("email", "", "also e-mail each notification of the type to this address (needs ALTYN_SMTP_ADDR)")
	enabled := fs.Bool("enabled", true, "send notifications of this type (flags not given keep their current values)")
	fs.Parse(args)
	if *publicID == "" {
		return errors.New("merchant notify: -public-id is required")
	}
	m, err := a.Merchants.ByPublicID(ctx, *publicID)
	if err != nil {
		return err
	}
	if *typ != "" {
		current, err := a.Notifier.Settings(ctx, m.ID)
		if err != nil {
			return err
		}
		var s *notify.Settings
		for i := range current {
			if strings.EqualFold(current[i].Type, *typ) {
				s = &current[i]
			}
		}
		if s == nil {
			return fmt.Errorf("merchant notify: unknown type %q (%s)", *typ, strings.Join(notify.Types, ", "))
		}
		// Flags not given keep their current values; a URL or an address
		// given turns the type on unless -enabled=false says otherwise.
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if set["url"] {
			s.URL = *url
		}
		if set["email"] {
			s.Email = *email
		}
		if set["format"] {
			s.Format = strings.ToLower(*format)
		}
		if set["method"] {
			s.Method = *method
		}
		switch {
		case set["enabled"]:
			s.Enabled = *enabled
		case set["url"] || set["email"]:
			s.Enabled = true
		}
		if _, err := a.Notifier.UpdateSettings(ctx, m.ID, *s); err != nil {
			return err
		}
	}
	list, err := a.Notifier.Settings(ctx, m.ID)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TYPE\tENABLED\tMETHOD\tFORMAT\tURL\tEMAIL")
	for _, s := range list {
		fmt.Fprintf(w, "%s\t%v\t%s\t%s\t%s\t%s\n", s.Type, s.Enabled, s.Method, s.Format, dash(s.URL), dash(s.Email))
	}
	return w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
