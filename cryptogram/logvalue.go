//go:build !js

package cryptogram

import "log/slog"

// The LogValue methods are left out of js/wasm builds: importing log/slog
// adds about 42 KB of brotli-compressed wasm to the widget, which does not
// log with slog. There a Card logged through slog is still redacted, by
// Format (TextHandler) and MarshalJSON (JSONHandler).

// LogValue implements slog.LogValuer: a group with the brand, mask and expiry
// only.
func (c Card) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("brand", string(c.Brand())),
		slog.String("mask", c.Mask()),
		slog.String("exp", c.expiry()),
	)
}

// LogValue implements slog.LogValuer with the key id and suite only.
func (k PrivateKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("key_id", k.keyID), slog.String("suite", k.suite.String()))
}
