# altyn — the two commands are `make run` and `make test` (see README.md).
GO ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run test deps generate lint bench fuzz widget

run: deps
	$(GO) run ./server

# test is what CI runs: the proto is lint-clean and gen/ is what buf makes of
# it, the code vets and passes staticcheck, the cryptogram builds for the
# browser, and every test passes with the race detector.
test: deps lint
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	GOOS=js GOARCH=wasm $(GO) build -o /dev/null ./cryptogram/
	GOOS=js GOARCH=wasm $(GO) vet ./widget/wasm/
	$(GO) test -race -timeout 20m ./...

deps:
	@scripts/deps.sh

generate:
	$(GO) tool buf generate

lint: generate
	$(GO) tool buf lint
	@git diff --quiet -- gen && test -z "$$(git status --porcelain -- gen)" || \
	  (echo "gen/ is not what buf generate makes of proto/: commit the regenerated code" >&2; git status --short -- gen; exit 1)

bench: deps
	$(GO) run ./server/bench

# widget rebuilds the widget's WebAssembly core (widget/assets/altyn.wasm,
# .br, .gz) after a change to widget/wasm, its packages or the Go version;
# a test fails while the committed files differ from what this makes.
widget: deps
	$(GO) generate ./widget

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzOpen -fuzztime 5m ./cryptogram/
