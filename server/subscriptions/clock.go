package subscriptions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/altynpay/altyn/store"
)

// Test clocks let a merchant in test mode watch months of billing in
// seconds: subscriptions attached to a clock fall due by the clock's time,
// and every replica's runner bills them as soon as the clock moves.

// ClockStatus says whether the runners have caught up with a clock.
type ClockStatus string

// The clock statuses.
const (
	ClockReady     ClockStatus = "Ready"     // nothing attached is due
	ClockAdvancing ClockStatus = "Advancing" // attached subscriptions are due and being billed
)

// Clock is a test clock with how far billing has caught up with it.
type Clock struct {
	*store.TestClock
	Status ClockStatus
	// Due counts attached subscriptions due by the clock and not yet billed.
	Due int
}

// CreateClockCommand asks for a test clock.
type CreateClockCommand struct {
	MerchantID string    `validate:"required"`
	Name       string    `field:"name" validate:"max=100"`
	Now        time.Time // the clock's time; zero = the real time
}

// CreateClock makes a test clock for a merchant in test mode.
func (s *Service) CreateClock(ctx context.Context, cmd CreateClockCommand) (*Clock, error) {
	if err := s.check(cmd); err != nil {
		return nil, err
	}
	m, err := s.ms.ByID(ctx, cmd.MerchantID)
	if err != nil {
		return nil, fmt.Errorf("merchant: %w", err)
	}
	if !m.TestMode {
		return nil, ErrTestModeOnly
	}
	now := s.now()
	if !cmd.Now.IsZero() && cmd.Now.Before(now.Add(-time.Minute)) {
		// Card histories are read 30 days back from the real time, so a
		// clock never runs behind it.
		return nil, invalid("frozen_time", "future", "frozen_time must not be in the past")
	}
	c := &store.TestClock{ID: newID("clk"), MerchantID: m.ID, Name: cmd.Name, Now: cmd.Now.UTC(), CreatedAt: now, UpdatedAt: now}
	if c.Now.IsZero() {
		c.Now = now
	}
	if err := s.store.CreateTestClock(ctx, c); err != nil {
		return nil, err
	}
	return &Clock{TestClock: c, Status: ClockReady}, nil
}

// Clock reads a test clock and how far billing has caught up with it.
func (s *Service) Clock(ctx context.Context, merchantID, id string) (*Clock, error) {
	c, err := s.store.TestClock(ctx, merchantID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrClockNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.withStatus(ctx, c)
}

func (s *Service) withStatus(ctx context.Context, c *store.TestClock) (*Clock, error) {
	n, err := s.store.TestClockBacklog(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	out := &Clock{TestClock: c, Status: ClockReady, Due: n}
	if n > 0 {
		out.Status = ClockAdvancing
	}
	return out, nil
}

// AdvanceClock moves a test clock forward to `to`; the runners then bill
// what fell due, period after period, retries and expiry included. The
// clock answers Advancing until they have caught up.
func (s *Service) AdvanceClock(ctx context.Context, merchantID, id string, to time.Time) (*Clock, error) {
	if to.IsZero() {
		return nil, invalid("frozen_time", "required", "frozen_time is required")
	}
	c, err := s.store.AdvanceTestClock(ctx, merchantID, id, to.UTC(), s.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrClockNotFound
	case errors.Is(err, store.ErrStale):
		return nil, ErrClockBackwards
	case err != nil:
		return nil, err
	}
	s.wake()
	return s.withStatus(ctx, c)
}

// AttachClock makes a subscription of a merchant in test mode run by a
// test clock: it falls due when the clock reaches its next date.
func (s *Service) AttachClock(ctx context.Context, merchantID, subscriptionID, clockID string) (*store.Subscription, error) {
	m, err := s.ms.ByID(ctx, merchantID)
	if err != nil {
		return nil, fmt.Errorf("merchant: %w", err)
	}
	if _, err := s.clock(ctx, m, clockID); err != nil {
		return nil, err
	}
	wall := s.now()
	sub, err := s.store.ModifySubscription(ctx, merchantID, subscriptionID, func(sub *store.Subscription, _ *store.TestClock) (store.SubscriptionChange, error) {
		switch {
		case !sub.TestMode:
			return store.SubscriptionChange{}, ErrTestModeOnly
		case sub.ClockID == clockID:
			return store.SubscriptionChange{}, errUnchanged
		case sub.ClockID != "":
			return store.SubscriptionChange{}, ErrOtherClock
		}
		sub.ClockID, sub.UpdatedAt = clockID, wall
		return store.SubscriptionChange{}, nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		return s.Get(ctx, merchantID, subscriptionID)
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrNotFound
	case err != nil:
		return nil, err
	}
	s.wake()
	return sub, nil
}

// clock reads a merchant's test clock, refusing merchants not in test mode.
func (s *Service) clock(ctx context.Context, m *store.Merchant, id string) (*store.TestClock, error) {
	if !m.TestMode {
		return nil, ErrTestModeOnly
	}
	c, err := s.store.TestClock(ctx, m.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrClockNotFound
	}
	return c, err
}
