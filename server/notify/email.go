package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"strings"
	"time"

	"github.com/altynpay/altyn/server/money"
	"github.com/altynpay/altyn/store"
)

// subjects names each notification type in an e-mail's subject.
var subjects = map[string]string{
	TypePay:       "Payment accepted",
	TypeFail:      "Payment declined",
	TypeConfirm:   "Payment captured",
	TypeRefund:    "Refund made",
	TypeCancel:    "Authorization cancelled",
	TypeRecurrent: "Subscription changed",
}

// emailMessage composes the e-mail of ev: a plain-text summary for the
// merchant, with the notification id as its Message-ID.
func emailMessage(ev *event, m *store.Merchant, from, to string, now time.Time) ([]byte, error) {
	subject := subjects[ev.Type]
	var body strings.Builder
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&body, "%-16s %s\n", k+":", v)
		}
	}
	if ev.Type == TypeRecurrent {
		s, err := decodeSubscription(ev.Subscription)
		if err != nil {
			return nil, fmt.Errorf("subscription: %w", err)
		}
		amount := ""
		if a, ok := s.int("Amount"); ok {
			amount = money.Decimal(a, s.str("Currency")) + " " + s.str("Currency")
		}
		subject += fmt.Sprintf(": %s is %s", s.str("Id", "ID"), s.str("Status"))
		fmt.Fprintf(&body, "A subscription of %s changed.\n\n", m.Name)
		line("Subscription", s.str("Id", "ID"))
		line("Status", s.str("Status"))
		line("Account", s.str("AccountId"))
		line("Amount", amount)
		line("Description", s.str("Description"))
		if t := s.time("NextTransactionDate", "NextTransactionAt"); !t.IsZero() {
			line("Next charge", cpDateTime(t)+" UTC")
		}
	} else {
		p := ev.Payment
		amount := p.Amount
		switch ev.Type {
		case TypeRefund:
			amount = ev.Refund.Amount
		case TypeConfirm:
			amount = p.CapturedAmount
		}
		amountText := money.Decimal(amount, p.Currency) + " " + p.Currency
		subject += ": " + amountText
		if p.InvoiceID != "" {
			subject += ", order " + p.InvoiceID
		}
		fmt.Fprintf(&body, "%s at %s.\n\n", subject, m.Name)
		line("Amount", amountText)
		line("Order", p.InvoiceID)
		line("Description", p.Description)
		line("Payment", p.ID)
		line("Transaction", fmt.Sprint(p.TransactionID))
		if ev.Type == TypeRefund {
			line("Refund", ev.Refund.ID)
		}
		line("Status", string(p.Status))
		if p.CardLastFour != "" {
			line("Card", strings.TrimSpace(p.CardBrand+" "+store.CardMask(p.CardFirstSix, p.CardLastFour)))
		}
		line("Payer", p.CardholderName)
		line("Payer e-mail", p.Email)
		line("Account", p.AccountID)
		if ev.Type == TypeFail {
			line("Reason", fmt.Sprintf("%d %s", p.ReasonCode, p.Reason))
		}
	}
	line("Time", cpDateTime(ev.CreatedAt)+" UTC")
	line("Notification", ev.ID)
	if m.TestMode {
		subject = "[TEST] " + subject
		body.WriteString("\nThis is a test-mode notification: no money moved.\n")
	}

	var msg bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&msg, "%s: %s\r\n", k, v) }
	hdr("From", from)
	hdr("To", to)
	hdr("Subject", mime.QEncoding.Encode("utf-8", subject))
	hdr("Date", now.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+ev.ID+"@altyn>")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "quoted-printable")
	hdr("Auto-Submitted", "auto-generated")
	msg.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&msg)
	qp.Write([]byte(strings.ReplaceAll(body.String(), "\n", "\r\n")))
	qp.Close()
	return msg.Bytes(), nil
}

// sendEmail sends the e-mail of ev to the address to through the relay.
func (n *Notifier) sendEmail(ctx context.Context, ev *event, m *store.Merchant, to string) error {
	cfg := n.cfg.SMTP
	if cfg.Addr == "" {
		return errors.New("no SMTP relay configured (ALTYN_SMTP_ADDR)")
	}
	msg, err := emailMessage(ev, m, cfg.From, to, n.now())
	if err != nil {
		return permanent(err)
	}
	return sendMail(ctx, cfg, to, msg)
}

// sendMail speaks SMTP to the relay (as cfg.From) within ctx's deadline: STARTTLS when
// the relay offers it, PLAIN auth when a username is set.
func sendMail(ctx context.Context, cfg SMTPConfig, to string, msg []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(cfg.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	defer c.Close()
	if err := c.Hello("altyn"); err != nil {
		return fmt.Errorf("smtp hello: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
			return fmt.Errorf("smtp starttls: %w", err)
		}
	}
	if cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", cfg.Username, cfg.Password, host)); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	if err := c.Mail(cfg.From); err != nil {
		return fmt.Errorf("smtp mail from: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("smtp rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	return c.Quit()
}
