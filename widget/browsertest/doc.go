// Package browsertest drives altyn's payment widget in headless Chromium
// against a real altyn (server/apptest: real server, real database) and a
// merchant's page on another origin. It holds only tests and the widget's
// benchmark:
//
//	go test ./widget/browsertest/                                  # the browser tests
//	go test -run '^$' -bench Widget -benchtime 1x ./widget/browsertest/   # the figures of docs/widget.md
//
// Chromium comes from Debian's chromium package (scripts/deps.sh installs
// it). Without it the tests skip, unless CI is set, where they fail.
// Screenshots of each step are written to widget/testdata/artifacts/.
package browsertest
