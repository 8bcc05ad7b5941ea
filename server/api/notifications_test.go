package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/gen/altyn/v1/altynv1connect"
	"github.com/altynpay/altyn/server/apptest"
	"github.com/altynpay/altyn/server/notify"
)

// notificationClients runs a test once through Connect and once through gRPC.
func notificationClients(t *testing.T, fn func(t *testing.T, env *apptest.Env, c altynv1connect.NotificationServiceClient)) {
	for _, proto := range []string{"connect", "grpc"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			env := apptest.New(t)
			c := env.Notifications
			if proto == "grpc" {
				c = altynv1connect.NewNotificationServiceClient(env.HTTP, env.URL,
					connect.WithInterceptors(apptest.BasicAuth(env.Merchant.PublicID, env.Secret)), connect.WithGRPC())
			}
			fn(t, env, c)
		})
	}
}

func TestNotificationSettingsAPI(t *testing.T) {
	t.Parallel()
	notificationClients(t, func(t *testing.T, env *apptest.Env, c altynv1connect.NotificationServiceClient) {
		ctx := context.Background()
		all, err := c.GetNotificationSettings(ctx, connect.NewRequest(&altynv1.GetNotificationSettingsRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		if len(all.Msg.Settings) != 7 {
			t.Fatalf("got %d types, want 7", len(all.Msg.Settings))
		}
		for _, s := range all.Msg.Settings {
			if s.Enabled || s.Format != altynv1.NotificationFormat_NOTIFICATION_FORMAT_ALTYN || s.Method != altynv1.HttpMethod_HTTP_METHOD_POST {
				t.Errorf("default settings of %v: %v", s.Type, s)
			}
		}

		saved, err := c.UpdateNotificationSettings(ctx, connect.NewRequest(&altynv1.UpdateNotificationSettingsRequest{
			Settings: &altynv1.NotificationSettings{Type: altynv1.NotificationType_NOTIFICATION_TYPE_PAY, Enabled: true,
				Url: "https://shop.example/cp/pay", Format: altynv1.NotificationFormat_NOTIFICATION_FORMAT_CLOUDPAYMENTS,
				Method: altynv1.HttpMethod_HTTP_METHOD_GET},
		}))
		if err != nil {
			t.Fatal(err)
		}
		if s := saved.Msg.Settings; s.Url != "https://shop.example/cp/pay" || s.UpdatedAt == nil || s.Method != altynv1.HttpMethod_HTTP_METHOD_GET {
			t.Errorf("saved: %v", s)
		}
		one, err := c.GetNotificationSettings(ctx, connect.NewRequest(&altynv1.GetNotificationSettingsRequest{Type: altynv1.NotificationType_NOTIFICATION_TYPE_PAY}))
		if err != nil || len(one.Msg.Settings) != 1 || !one.Msg.Settings[0].Enabled ||
			one.Msg.Settings[0].Format != altynv1.NotificationFormat_NOTIFICATION_FORMAT_CLOUDPAYMENTS {
			t.Errorf("read back: %v (%v)", one.Msg.GetSettings(), err)
		}

		bad := []struct {
			name  string
			s     *altynv1.NotificationSettings
			code  connect.Code
			field string
		}{
			{"no type", &altynv1.NotificationSettings{Enabled: true, Url: "https://a.example/"}, connect.CodeInvalidArgument, "settings.type"},
			{"relative URL", &altynv1.NotificationSettings{Type: altynv1.NotificationType_NOTIFICATION_TYPE_PAY, Enabled: true, Url: "/pay"}, connect.CodeInvalidArgument, "url"},
			{"ftp URL", &altynv1.NotificationSettings{Type: altynv1.NotificationType_NOTIFICATION_TYPE_PAY, Enabled: true, Url: "ftp://a.example/"}, connect.CodeInvalidArgument, "url"},
			{"enabled without a target", &altynv1.NotificationSettings{Type: altynv1.NotificationType_NOTIFICATION_TYPE_FAIL, Enabled: true}, connect.CodeInvalidArgument, "url"},
			{"ecommpay Check", &altynv1.NotificationSettings{Type: altynv1.NotificationType_NOTIFICATION_TYPE_CHECK, Enabled: true,
				Url: "https://a.example/", Format: altynv1.NotificationFormat_NOTIFICATION_FORMAT_ECOMMPAY}, connect.CodeInvalidArgument, "format"},
			{"GET in the altyn format", &altynv1.NotificationSettings{Type: altynv1.NotificationType_NOTIFICATION_TYPE_PAY, Enabled: true,
				Url: "https://a.example/", Method: altynv1.HttpMethod_HTTP_METHOD_GET}, connect.CodeInvalidArgument, "method"},
			{"Check by e-mail", &altynv1.NotificationSettings{Type: altynv1.NotificationType_NOTIFICATION_TYPE_CHECK, Enabled: true,
				Email: "shop@example.com"}, connect.CodeInvalidArgument, "email"},
			{"bad e-mail", &altynv1.NotificationSettings{Type: altynv1.NotificationType_NOTIFICATION_TYPE_PAY, Enabled: true,
				Email: "Shop <shop@example.com>"}, connect.CodeInvalidArgument, "email"},
			{"e-mail without a relay", &altynv1.NotificationSettings{Type: altynv1.NotificationType_NOTIFICATION_TYPE_PAY, Enabled: true,
				Email: "shop@example.com"}, connect.CodeFailedPrecondition, ""},
			{"unknown format", &altynv1.NotificationSettings{Type: altynv1.NotificationType_NOTIFICATION_TYPE_PAY, Enabled: true,
				Url: "https://a.example/", Format: 99}, connect.CodeInvalidArgument, "settings.format"},
		}
		for _, b := range bad {
			_, err := c.UpdateNotificationSettings(ctx, connect.NewRequest(&altynv1.UpdateNotificationSettingsRequest{Settings: b.s}))
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Code() != b.code || (b.field != "" && !hasField(ce, b.field)) {
				t.Errorf("%s: got %v, want %v on field %q", b.name, err, b.code, b.field)
			}
		}
		// The bad updates left the good one alone.
		one, _ = c.GetNotificationSettings(ctx, connect.NewRequest(&altynv1.GetNotificationSettingsRequest{Type: altynv1.NotificationType_NOTIFICATION_TYPE_PAY}))
		if one.Msg.Settings[0].Url != "https://shop.example/cp/pay" {
			t.Errorf("Pay settings changed by refused updates: %v", one.Msg.Settings[0])
		}
	})
}

func TestDeliveriesAPI(t *testing.T) {
	t.Parallel()
	notificationClients(t, func(t *testing.T, env *apptest.Env, c altynv1connect.NotificationServiceClient) {
		ctx := context.Background()
		var fails atomic.Int32
		rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get(notify.EventTypeHeader) == "Fail" {
				fails.Add(1)
				http.Error(w, "nope", http.StatusServiceUnavailable)
				return
			}
			w.Write([]byte(`{"code":0}`))
		}))
		defer rc.Close()
		for _, typ := range []altynv1.NotificationType{altynv1.NotificationType_NOTIFICATION_TYPE_PAY, altynv1.NotificationType_NOTIFICATION_TYPE_FAIL} {
			if _, err := c.UpdateNotificationSettings(ctx, connect.NewRequest(&altynv1.UpdateNotificationSettingsRequest{
				Settings: &altynv1.NotificationSettings{Type: typ, Enabled: true, Url: rc.URL}})); err != nil {
				t.Fatal(err)
			}
		}
		paid := charge(t, env, env.Connect, "4000000000003055", 1000)
		charge(t, env, env.Connect, "4000000000003055", 2000)
		failed := charge(t, env, env.Connect, "4000056655665556", 3000)
		wctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); env.App.Notifier.Run(wctx) }()
		defer func() { stop(); <-done }()

		list := func(req *altynv1.ListDeliveriesRequest) []*altynv1.Delivery {
			t.Helper()
			res, err := c.ListDeliveries(ctx, connect.NewRequest(req))
			if err != nil {
				t.Fatal(err)
			}
			return res.Msg.Deliveries
		}
		deadline := time.Now().Add(10 * time.Second)
		for len(list(&altynv1.ListDeliveriesRequest{Status: altynv1.DeliveryStatus_DELIVERY_STATUS_DELIVERED})) < 2 ||
			len(list(&altynv1.ListDeliveriesRequest{Type: altynv1.NotificationType_NOTIFICATION_TYPE_FAIL})) == 0 ||
			list(&altynv1.ListDeliveriesRequest{Type: altynv1.NotificationType_NOTIFICATION_TYPE_FAIL})[0].Attempts == 0 {
			if time.Now().After(deadline) {
				t.Fatal("timed out waiting for the deliveries")
			}
			time.Sleep(20 * time.Millisecond)
		}

		page1, err := c.ListDeliveries(ctx, connect.NewRequest(&altynv1.ListDeliveriesRequest{PageSize: 2}))
		if err != nil || len(page1.Msg.Deliveries) != 2 || page1.Msg.NextPageToken == "" {
			t.Fatalf("page 1: %v (%v)", page1.Msg.GetDeliveries(), err)
		}
		page2, err := c.ListDeliveries(ctx, connect.NewRequest(&altynv1.ListDeliveriesRequest{PageSize: 2, PageToken: page1.Msg.NextPageToken}))
		if err != nil || len(page2.Msg.Deliveries) != 1 || page2.Msg.NextPageToken != "" {
			t.Fatalf("page 2: %v (%v)", page2.Msg.GetDeliveries(), err)
		}
		byPayment := list(&altynv1.ListDeliveriesRequest{PaymentId: paid.Id})
		if len(byPayment) != 1 || byPayment[0].Type != altynv1.NotificationType_NOTIFICATION_TYPE_PAY ||
			byPayment[0].Status != altynv1.DeliveryStatus_DELIVERY_STATUS_DELIVERED || byPayment[0].LastHttpStatus != 200 {
			t.Errorf("deliveries of %s: %v", paid.Id, byPayment)
		}
		failing := list(&altynv1.ListDeliveriesRequest{PaymentId: failed.Id})
		if len(failing) != 1 || failing[0].Status != altynv1.DeliveryStatus_DELIVERY_STATUS_PENDING || failing[0].LastHttpStatus != 503 ||
			failing[0].NextAttemptAt == nil || failing[0].LastError != "HTTP 503" {
			t.Fatalf("failing delivery: %v", failing)
		}

		got, err := c.GetDelivery(ctx, connect.NewRequest(&altynv1.GetDeliveryRequest{NotificationId: failing[0].NotificationId}))
		if err != nil || len(got.Msg.Deliveries) != 1 || len(got.Msg.Deliveries[0].Attempts) != 1 ||
			got.Msg.Deliveries[0].Attempts[0].HttpStatus != 503 || got.Msg.Deliveries[0].Attempts[0].Target != rc.URL {
			t.Errorf("GetDelivery: %v (%v)", got.Msg.GetDeliveries(), err)
		}
		// Resend makes it due now, without waiting out the minute.
		before := fails.Load()
		res, err := c.ResendNotification(ctx, connect.NewRequest(&altynv1.ResendNotificationRequest{NotificationId: failing[0].NotificationId}))
		if err != nil || len(res.Msg.Deliveries) != 1 {
			t.Fatalf("resend: %v (%v)", res.Msg.GetDeliveries(), err)
		}
		for fails.Load() == before {
			if time.Now().After(deadline) {
				t.Fatal("timed out waiting for the resent attempt")
			}
			time.Sleep(20 * time.Millisecond)
		}

		for _, e := range []struct {
			name string
			call func() error
			code connect.Code
		}{
			{"GetDelivery of an unknown id", func() error {
				_, err := c.GetDelivery(ctx, connect.NewRequest(&altynv1.GetDeliveryRequest{NotificationId: "evt_nope"}))
				return err
			}, connect.CodeNotFound},
			{"GetDelivery without an id", func() error {
				_, err := c.GetDelivery(ctx, connect.NewRequest(&altynv1.GetDeliveryRequest{}))
				return err
			}, connect.CodeInvalidArgument},
			{"Resend of an unknown id", func() error {
				_, err := c.ResendNotification(ctx, connect.NewRequest(&altynv1.ResendNotificationRequest{NotificationId: "evt_nope"}))
				return err
			}, connect.CodeNotFound},
			{"Resend over a channel that is off", func() error {
				_, err := c.ResendNotification(ctx, connect.NewRequest(&altynv1.ResendNotificationRequest{NotificationId: failing[0].NotificationId,
					Channel: altynv1.DeliveryChannel_DELIVERY_CHANNEL_EMAIL}))
				return err
			}, connect.CodeFailedPrecondition},
			{"a forged page token", func() error {
				_, err := c.ListDeliveries(ctx, connect.NewRequest(&altynv1.ListDeliveriesRequest{PageToken: "forged"}))
				return err
			}, connect.CodeInvalidArgument},
			{"a page too large", func() error {
				_, err := c.ListDeliveries(ctx, connect.NewRequest(&altynv1.ListDeliveriesRequest{PageSize: 101}))
				return err
			}, connect.CodeInvalidArgument},
		} {
			if err := e.call(); connect.CodeOf(err) != e.code {
				t.Errorf("%s: got %v, want %v", e.name, err, e.code)
			}
		}

		// Another merchant sees none of it.
		other := apptest.New(t, apptest.WithDatabase(env.DatabaseURL, env.Master))
		res2, err := other.Notifications.ListDeliveries(ctx, connect.NewRequest(&altynv1.ListDeliveriesRequest{}))
		if err != nil || len(res2.Msg.Deliveries) != 0 {
			t.Errorf("another merchant lists %v (%v), want nothing", res2.Msg.GetDeliveries(), err)
		}
		if _, err := other.Notifications.GetDelivery(ctx, connect.NewRequest(&altynv1.GetDeliveryRequest{NotificationId: failing[0].NotificationId})); connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("another merchant's GetDelivery: got %v, want NotFound", err)
		}
	})
}
