package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	altynv1 "github.com/altynpay/altyn/gen/altyn/v1"
	"github.com/altynpay/altyn/gen/altyn/v1/altynv1connect"
	"github.com/altynpay/altyn/server/subscriptions"
	"github.com/altynpay/altyn/store"
)

type subscriptionServer struct {
	svc *subscriptions.Service
	log *slog.Logger
}

var _ altynv1connect.SubscriptionServiceHandler = (*subscriptionServer)(nil)

// NewSubscriptionServer serves the private SubscriptionService; wrap it
// with the auth interceptor.
func NewSubscriptionServer(svc *subscriptions.Service, log *slog.Logger) altynv1connect.SubscriptionServiceHandler {
	return &subscriptionServer{svc: svc, log: log}
}

var intervals = map[altynv1.Interval]subscriptions.Interval{
	altynv1.Interval_INTERVAL_DAY:   subscriptions.Day,
	altynv1.Interval_INTERVAL_WEEK:  subscriptions.Week,
	altynv1.Interval_INTERVAL_MONTH: subscriptions.Month,
}

var intervalProtos = map[string]altynv1.Interval{
	string(subscriptions.Day): altynv1.Interval_INTERVAL_DAY, string(subscriptions.Week): altynv1.Interval_INTERVAL_WEEK,
	string(subscriptions.Month): altynv1.Interval_INTERVAL_MONTH,
}

var subscriptionStatuses = map[store.SubscriptionStatus]altynv1.SubscriptionStatus{
	store.SubscriptionActive:    altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE,
	store.SubscriptionPastDue:   altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PAST_DUE,
	store.SubscriptionCancelled: altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELLED,
	store.SubscriptionRejected:  altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_REJECTED,
	store.SubscriptionExpired:   altynv1.SubscriptionStatus_SUBSCRIPTION_STATUS_EXPIRED,
}

// planOf turns a payment's typed recurrent plan into the one the engine
// stores with the payment.
func planOf(r *altynv1.RecurrentPlan, currency string) (json.RawMessage, error) {
	interval, ok := intervals[r.Interval]
	if !ok {
		return nil, invalid("recurrent.interval", "required", "recurrent.interval is required: DAY, WEEK or MONTH")
	}
	p := subscriptions.Plan{Interval: interval, Period: int(r.Period), MaxPeriods: int(r.MaxPeriods)}
	if p.Period == 0 {
		p.Period = 1
	}
	if a := r.Amount; a != nil {
		if a.Currency != "" && a.Currency != currency {
			return nil, invalid("recurrent.amount.currency", "eqfield", "recurrent.amount.currency must be the payment's currency")
		}
		p.Amount = a.Amount
		if p.Amount <= 0 {
			return nil, invalid("recurrent.amount.amount", "gt", "recurrent.amount.amount must be greater than 0")
		}
	}
	if t := r.StartDate; t != nil {
		at := t.AsTime()
		p.StartAt = &at
	}
	if t := r.EndDate; t != nil {
		at := t.AsTime()
		p.EndAt = &at
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// SubscriptionProto turns a subscription into the API's message.
func SubscriptionProto(sub *store.Subscription) *altynv1.Subscription {
	out := &altynv1.Subscription{
		Id: sub.ID, AccountId: sub.AccountID, Token: sub.TokenID, Description: sub.Description, Email: sub.Email,
		Amount:              &altynv1.Money{Amount: sub.Amount, Currency: sub.Currency},
		RequireConfirmation: sub.RequireConfirmation, StartDate: timestamp(sub.StartAt),
		Interval: intervalProtos[sub.Interval], Period: int32(sub.Period), MaxPeriods: int32(sub.MaxPeriods),
		EndDate: timestamp(sub.EndAt), Status: subscriptionStatuses[sub.Status],
		SuccessfulTransactions: int32(sub.Successful), FailedTransactions: int32(sub.Failed),
		LastTransactionDate: timestamp(sub.LastAt), NextTransactionDate: timestamp(subscriptions.NextTransaction(sub)),
		LastReasonCode: int32(sub.LastReasonCode), RetryRule: sub.Rule,
		RetryRuleDescription: subscriptions.Rule(sub.Rule).Describe(),
		TestClockId:          sub.ClockID, PaymentId: sub.SourcePaymentID, TestMode: sub.TestMode,
		CreatedAt: timestamp(sub.CreatedAt), CancelledAt: timestamp(sub.CancelledAt),
	}
	if sub.RetryDelay != 0 || sub.MaxFailures != 0 {
		out.Retry = &altynv1.RetrySettings{MaxFailures: int32(sub.MaxFailures)}
		if sub.RetryDelay != 0 {
			out.Retry.Delay = durationpb.New(sub.RetryDelay)
		}
	}
	return out
}

func settingsOf(r *altynv1.RetrySettings) (subscriptions.Settings, error) {
	var st subscriptions.Settings
	if r == nil {
		return st, nil
	}
	if d := r.Delay; d != nil {
		if err := d.CheckValid(); err != nil {
			return st, invalid("retry.delay", "duration", "retry.delay is not a valid duration")
		}
		st.RetryDelay = d.AsDuration()
	}
	st.MaxFailures = int(r.MaxFailures)
	return st, nil
}

func timeOf(t interface{ AsTime() time.Time }, set bool) time.Time {
	if !set {
		return time.Time{}
	}
	return t.AsTime()
}

func (s *subscriptionServer) CreateSubscription(ctx context.Context, req *connect.Request[altynv1.CreateSubscriptionRequest]) (*connect.Response[altynv1.CreateSubscriptionResponse], error) {
	m := req.Msg
	retry, err := settingsOf(m.Retry)
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	sub, err := s.svc.Create(ctx, subscriptions.CreateCommand{
		MerchantID: merchantFrom(ctx).ID, Token: m.Token, AccountID: m.AccountId, Description: m.Description,
		Email: m.Email, Amount: m.Amount.GetAmount(), Currency: m.Amount.GetCurrency(),
		RequireConfirmation: m.RequireConfirmation, StartAt: timeOf(m.StartDate, m.StartDate != nil),
		Interval: intervals[m.Interval], Period: int(m.Period), MaxPeriods: int(m.MaxPeriods),
		EndAt: timeOf(m.EndDate, m.EndDate != nil), Retry: retry, ClockID: m.TestClockId,
		IdempotencyKey: idempotencyKey(m.IdempotencyKey, req.Header()),
	})
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.CreateSubscriptionResponse{Subscription: SubscriptionProto(sub)}), nil
}

func (s *subscriptionServer) GetSubscription(ctx context.Context, req *connect.Request[altynv1.GetSubscriptionRequest]) (*connect.Response[altynv1.GetSubscriptionResponse], error) {
	sub, err := s.svc.Get(ctx, merchantFrom(ctx).ID, req.Msg.Id)
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.GetSubscriptionResponse{Subscription: SubscriptionProto(sub)}), nil
}

func (s *subscriptionServer) FindSubscriptions(ctx context.Context, req *connect.Request[altynv1.FindSubscriptionsRequest]) (*connect.Response[altynv1.FindSubscriptionsResponse], error) {
	list, err := s.svc.Find(ctx, merchantFrom(ctx).ID, req.Msg.AccountId)
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	out := &altynv1.FindSubscriptionsResponse{}
	for _, sub := range list {
		out.Subscriptions = append(out.Subscriptions, SubscriptionProto(sub))
	}
	return connect.NewResponse(out), nil
}

func (s *subscriptionServer) UpdateSubscription(ctx context.Context, req *connect.Request[altynv1.UpdateSubscriptionRequest]) (*connect.Response[altynv1.UpdateSubscriptionResponse], error) {
	m := req.Msg
	cmd := subscriptions.UpdateCommand{
		MerchantID: merchantFrom(ctx).ID, ID: m.Id, Token: m.Token, Description: m.Description, Email: m.Email,
		RequireConfirmation: m.RequireConfirmation,
	}
	if a := m.Amount; a != nil {
		cmd.Amount, cmd.Currency = &a.Amount, &a.Currency
	}
	if t := m.StartDate; t != nil {
		at := t.AsTime()
		cmd.StartAt = &at
	}
	if m.Interval != altynv1.Interval_INTERVAL_UNSPECIFIED {
		i, ok := intervals[m.Interval]
		if !ok {
			return nil, connectError(ctx, s.log, invalid("interval", "enum", "interval is not a known value"))
		}
		cmd.Interval = &i
	}
	if m.Period != nil {
		p := int(*m.Period)
		cmd.Period = &p
	}
	if m.MaxPeriods != nil {
		n := int(*m.MaxPeriods)
		cmd.MaxPeriods = &n
	}
	switch {
	case m.ClearEndDate && m.EndDate != nil:
		return nil, connectError(ctx, s.log, invalid("clear_end_date", "excluded_with", "give end_date or clear_end_date, not both"))
	case m.ClearEndDate:
		cmd.EndAt = &time.Time{}
	case m.EndDate != nil:
		at := m.EndDate.AsTime()
		cmd.EndAt = &at
	}
	if m.Retry != nil {
		st, err := settingsOf(m.Retry)
		if err != nil {
			return nil, connectError(ctx, s.log, err)
		}
		cmd.Retry = &st
	}
	sub, err := s.svc.Update(ctx, cmd)
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.UpdateSubscriptionResponse{Subscription: SubscriptionProto(sub)}), nil
}

func (s *subscriptionServer) CancelSubscription(ctx context.Context, req *connect.Request[altynv1.CancelSubscriptionRequest]) (*connect.Response[altynv1.CancelSubscriptionResponse], error) {
	sub, err := s.svc.Cancel(ctx, subscriptions.CancelCommand{MerchantID: merchantFrom(ctx).ID, ID: req.Msg.Id})
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.CancelSubscriptionResponse{Subscription: SubscriptionProto(sub)}), nil
}

type testClockServer struct {
	svc *subscriptions.Service
	log *slog.Logger
}

var _ altynv1connect.TestClockServiceHandler = (*testClockServer)(nil)

// NewTestClockServer serves the private TestClockService; wrap it with the
// auth interceptor.
func NewTestClockServer(svc *subscriptions.Service, log *slog.Logger) altynv1connect.TestClockServiceHandler {
	return &testClockServer{svc: svc, log: log}
}

var clockStatuses = map[subscriptions.ClockStatus]altynv1.TestClockStatus{
	subscriptions.ClockReady:     altynv1.TestClockStatus_TEST_CLOCK_STATUS_READY,
	subscriptions.ClockAdvancing: altynv1.TestClockStatus_TEST_CLOCK_STATUS_ADVANCING,
}

func clockProto(c *subscriptions.Clock) *altynv1.TestClock {
	return &altynv1.TestClock{Id: c.ID, Name: c.Name, FrozenTime: timestamp(c.Now), Status: clockStatuses[c.Status],
		DueSubscriptions: int32(c.Due), CreatedAt: timestamp(c.CreatedAt)}
}

func (s *testClockServer) CreateTestClock(ctx context.Context, req *connect.Request[altynv1.CreateTestClockRequest]) (*connect.Response[altynv1.CreateTestClockResponse], error) {
	c, err := s.svc.CreateClock(ctx, subscriptions.CreateClockCommand{
		MerchantID: merchantFrom(ctx).ID, Name: req.Msg.Name, Now: timeOf(req.Msg.FrozenTime, req.Msg.FrozenTime != nil),
	})
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.CreateTestClockResponse{TestClock: clockProto(c)}), nil
}

func (s *testClockServer) GetTestClock(ctx context.Context, req *connect.Request[altynv1.GetTestClockRequest]) (*connect.Response[altynv1.GetTestClockResponse], error) {
	c, err := s.svc.Clock(ctx, merchantFrom(ctx).ID, req.Msg.Id)
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.GetTestClockResponse{TestClock: clockProto(c)}), nil
}

func (s *testClockServer) AdvanceTestClock(ctx context.Context, req *connect.Request[altynv1.AdvanceTestClockRequest]) (*connect.Response[altynv1.AdvanceTestClockResponse], error) {
	c, err := s.svc.AdvanceClock(ctx, merchantFrom(ctx).ID, req.Msg.Id, timeOf(req.Msg.FrozenTime, req.Msg.FrozenTime != nil))
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.AdvanceTestClockResponse{TestClock: clockProto(c)}), nil
}

func (s *testClockServer) AttachTestClock(ctx context.Context, req *connect.Request[altynv1.AttachTestClockRequest]) (*connect.Response[altynv1.AttachTestClockResponse], error) {
	sub, err := s.svc.AttachClock(ctx, merchantFrom(ctx).ID, req.Msg.SubscriptionId, req.Msg.TestClockId)
	if err != nil {
		return nil, connectError(ctx, s.log, err)
	}
	return connect.NewResponse(&altynv1.AttachTestClockResponse{Subscription: SubscriptionProto(sub)}), nil
}
