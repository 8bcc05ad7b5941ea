# altyn — the two commands are `make run` and `make test` (see README.md).
GO ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run test deps generate lint bench fuzz

run: deps
	$(GO) run ./server

# test is what CI runs: the proto is lint-clean and gen/ is what buf makes of
# it, the code vets and passes staticcheck, the cryptogram builds for the
# browser, and every test passes with the race detector.
test: deps lint
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	GOOS=js GOARCH=wasm $(GO) build -o /dev/null ./cryptogram/
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

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzOpen -fuzztime 5m ./cryptogram/
