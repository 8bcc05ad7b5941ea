package api

import (
	"context"
	"log/slog"
	"net/http"

	"connectrpc.com/connect"

	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/gen/altyn/v1/altynv1connect"
	"github.com/altynpay/altyn/server/notify"
	"github.com/altynpay/altyn/store"
)

type notificationServer struct {
	notifier *notify.Notifier
	log      *slog.Logger
}

var _ altynv1connect.NotificationServiceHandler = (*notificationServer)(nil)

// NewNotificationServer serves the private NotificationService; wrap it
// with the auth interceptor.
func NewNotificationServer(n *notify.Notifier, log *slog.Logger) altynv1connect.NotificationServiceHandler {
	return &notificationServer{notifier: n, log: log}
}

var notificationTypes = map[altynv1.NotificationType]string{
	altynv1.NotificationType_NOTIFICATION_TYPE_CHECK:     notify.TypeCheck,
	altynv1.NotificationType_NOTIFICATION_TYPE_PAY:       notify.TypePay,
	altynv1.NotificationType_NOTIFICATION_TYPE_FAIL:      notify.TypeFail,
	altynv1.NotificationType_NOTIFICATION_TYPE_CONFIRM:   notify.TypeConfirm,
	altynv1.NotificationType_NOTIFICATION_TYPE_REFUND:    notify.TypeRefund,
	altynv1.NotificationType_NOTIFICATION_TYPE_CANCEL:    notify.TypeCancel,
	altynv1.NotificationType_NOTIFICATION_TYPE_RECURRENT: notify.TypeRecurrent,
}

var notificationFormats = map[altynv1.NotificationFormat]string{
	altynv1.NotificationFormat_NOTIFICATION_FORMAT_UNSPECIFIED:        notify.FormatAltyn,
	altynv1.NotificationFormat_NOTIFICATION_FORMAT_ALTYN:              notify.FormatAltyn,
	altynv1.NotificationFormat_NOTIFICATION_FORMAT_CLOUDPAYMENTS:      notify.FormatCloudPayments,
	altynv1.NotificationFormat_NOTIFICATION_FORMAT_CLOUDPAYMENTS_JSON: notify.FormatCloudPaymentsJSON,
	altynv1.NotificationFormat_NOTIFICATION_FORMAT_ECOMMPAY:           notify.FormatEcommpay,
}

var httpMethods = map[altynv1.HttpMethod]string{
	altynv1.HttpMethod_HTTP_METHOD_UNSPECIFIED: http.MethodPost,
	altynv1.HttpMethod_HTTP_METHOD_POST:        http.MethodPost,
	altynv1.HttpMethod_HTTP_METHOD_GET:         http.MethodGet,
}

var deliveryChannels = map[altynv1.DeliveryChannel]string{
	altynv1.DeliveryChannel_DELIVERY_CHANNEL_UNSPECIFIED: "",
	altynv1.DeliveryChannel_DELIVERY_CHANNEL_HTTP:        store.ChannelHTTP,
	altynv1.DeliveryChannel_DELIVERY_CHANNEL_EMAIL:       store.ChannelEmail,
}

var deliveryStatuses = map[altynv1.DeliveryStatus]store.DeliveryStatus{
	altynv1.DeliveryStatus_DELIVERY_STATUS_UNSPECIFIED: "",
	altynv1.DeliveryStatus_DELIVERY_STATUS_PENDING:     store.DeliveryPending,
	altynv1.DeliveryStatus_DELIVERY_STATUS_DELIVERED:   store.DeliveryDelivered,
	altynv1.DeliveryStatus_DELIVERY_STATUS_FAILED:      store.DeliveryFailed,
	altynv1.DeliveryStatus_DELIVERY_STATUS_CANCELLED:   store.DeliveryCancelled,
}

// reverse inverts an enum map, skipping the zero value's entry when another
// value maps to the same name.
func reverse[K comparable, V comparable](m map[K]V) map[V]K {
	out := make(map[V]K, len(m))
	for k, v := range m {
		if prev, ok := out[v]; !ok || k != *new(K) && prev == *new(K) {
			out[v] = k
		}
	}
	return out
}

var (
	notificationTypeProtos   = reverse(notificationTypes)
	notificationFormatProtos = reverse(notificationFormats)
	httpMethodProtos         = reverse(httpMethods)
	deliveryChannelProtos    = reverse(deliveryChannels)
	deliveryStatusProtos     = reverse(deliveryStatuses)
)

func (s *notificationServer) GetNotificationSettings(ctx context.Context, req *connect.Request[altynv1.GetNotificationSettingsRequest]) (*connect.Response[altynv1.GetNotificationSettingsResponse], error) {
	typ := ""
	if req.Msg.Type != altynv1.NotificationType_NOTIFICATION_TYPE_UNSPECIFIED {
		var ok bool
		if typ, ok = notificationTypes[req.Msg.Type]; !ok {
			return nil, connectError(ctx, s.log, invalid("type", "enum", "type is not a known notification type"))
		}
	}
	list, err := s.notifier.Settings(ctx, merchantFrom(ctx).ID)
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	out := &altynv1.GetNotificationSettingsResponse{}
	for _, st := range list {
		if typ == "" || st.Type == typ {
			out.Settings = append(out.Settings, settingsProto(st))
		}
	}
	return connect.NewResponse(out), nil
}

func (s *notificationServer) UpdateNotificationSettings(ctx context.Context, req *connect.Request[altynv1.UpdateNotificationSettingsRequest]) (*connect.Response[altynv1.UpdateNotificationSettingsResponse], error) {
	in := req.Msg.GetSettings()
	typ, ok := notificationTypes[in.GetType()]
	if !ok {
		return nil, connectError(ctx, s.log, invalid("settings.type", "required", "settings.type must name a notification type"))
	}
	format, ok := notificationFormats[in.GetFormat()]
	if !ok {
		return nil, connectError(ctx, s.log, invalid("settings.format", "enum", "settings.format is not a known format"))
	}
	method, ok := httpMethods[in.GetMethod()]
	if !ok {
		return nil, connectError(ctx, s.log, invalid("settings.method", "enum", "settings.method is not a known method"))
	}
	saved, err := s.notifier.UpdateSettings(ctx, merchantFrom(ctx).ID, notify.Settings{
		Type: typ, Enabled: in.GetEnabled(), URL: in.GetUrl(), Method: method, Format: format, Email: in.GetEmail(),
	})
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.UpdateNotificationSettingsResponse{Settings: settingsProto(saved)}), nil
}

func (s *notificationServer) ListDeliveries(ctx context.Context, req *connect.Request[altynv1.ListDeliveriesRequest]) (*connect.Response[altynv1.ListDeliveriesResponse], error) {
	f := notify.DeliveryFilter{PaymentID: req.Msg.PaymentId, PageSize: int(req.Msg.PageSize), PageToken: req.Msg.PageToken}
	if req.Msg.PageSize < 0 || req.Msg.PageSize > 100 {
		return nil, connectError(ctx, s.log, invalid("page_size", "lte", "page_size must be between 0 and 100"))
	}
	if req.Msg.Type != altynv1.NotificationType_NOTIFICATION_TYPE_UNSPECIFIED {
		typ, ok := notificationTypes[req.Msg.Type]
		if !ok {
			return nil, connectError(ctx, s.log, invalid("type", "enum", "type is not a known notification type"))
		}
		f.Type = typ
	}
	status, ok := deliveryStatuses[req.Msg.Status]
	if !ok {
		return nil, connectError(ctx, s.log, invalid("status", "enum", "status is not a known delivery status"))
	}
	f.Status = status
	list, next, err := s.notifier.Deliveries(ctx, merchantFrom(ctx).ID, f)
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	out := &altynv1.ListDeliveriesResponse{NextPageToken: next}
	for _, d := range list {
		out.Deliveries = append(out.Deliveries, deliveryProto(d))
	}
	return connect.NewResponse(out), nil
}

func (s *notificationServer) GetDelivery(ctx context.Context, req *connect.Request[altynv1.GetDeliveryRequest]) (*connect.Response[altynv1.GetDeliveryResponse], error) {
	if req.Msg.NotificationId == "" {
		return nil, connectError(ctx, s.log, invalid("notification_id", "required", "notification_id is required"))
	}
	logs, err := s.notifier.Delivery(ctx, merchantFrom(ctx).ID, req.Msg.NotificationId)
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	out := &altynv1.GetDeliveryResponse{}
	for _, l := range logs {
		dl := &altynv1.DeliveryLog{Delivery: deliveryProto(l.Delivery)}
		for _, a := range l.Attempts {
			dl.Attempts = append(dl.Attempts, &altynv1.DeliveryAttempt{
				Attempt: int32(a.Attempt), Target: a.Target, StartedAt: timestamp(a.StartedAt),
				LatencyMs: a.Latency.Milliseconds(), HttpStatus: int32(a.HTTPStatus), Error: a.Error,
			})
		}
		out.Deliveries = append(out.Deliveries, dl)
	}
	return connect.NewResponse(out), nil
}

func (s *notificationServer) ResendNotification(ctx context.Context, req *connect.Request[altynv1.ResendNotificationRequest]) (*connect.Response[altynv1.ResendNotificationResponse], error) {
	if req.Msg.NotificationId == "" {
		return nil, connectError(ctx, s.log, invalid("notification_id", "required", "notification_id is required"))
	}
	channel, ok := deliveryChannels[req.Msg.Channel]
	if !ok {
		return nil, connectError(ctx, s.log, invalid("channel", "enum", "channel is not a known delivery channel"))
	}
	list, err := s.notifier.Resend(ctx, merchantFrom(ctx).ID, req.Msg.NotificationId, channel)
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	out := &altynv1.ResendNotificationResponse{}
	for _, d := range list {
		out.Deliveries = append(out.Deliveries, deliveryProto(d))
	}
	return connect.NewResponse(out), nil
}

func settingsProto(s notify.Settings) *altynv1.NotificationSettings {
	return &altynv1.NotificationSettings{
		Type: notificationTypeProtos[s.Type], Enabled: s.Enabled, Url: s.URL,
		Method: httpMethodProtos[s.Method], Format: notificationFormatProtos[s.Format], Email: s.Email,
		UpdatedAt: timestamp(s.UpdatedAt),
	}
}

func deliveryProto(d store.Delivery) *altynv1.Delivery {
	out := &altynv1.Delivery{
		NotificationId: d.OutboxID, Type: notificationTypeProtos[d.Type], Channel: deliveryChannelProtos[d.Channel],
		PaymentId: d.PaymentID, Target: d.Target, Status: deliveryStatusProtos[d.Status], Attempts: int32(d.Attempts),
		LastHttpStatus: int32(d.LastStatus), LastError: d.LastError, LastLatencyMs: d.LastLatency.Milliseconds(),
		CreatedAt: timestamp(d.CreatedAt), DeliveredAt: timestamp(d.DeliveredAt),
	}
	if d.Status == store.DeliveryPending {
		out.NextAttemptAt = timestamp(d.NextAttemptAt)
	}
	return out
}
