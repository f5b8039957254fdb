# Segl's two commands are `make run` and `make test`; each installs what it
# needs first (scripts/deps.sh, a no-op when everything is there).

SHELL := /bin/bash
GO    ?= go
# PKCS#11 is reached through cgo: say so, rather than trust the default.
export CGO_ENABLED := 1

DEV_DIR ?= .segl

.PHONY: all deps build test vet fmt-check run bench drill realdata fuzz clean install man generate

all: build

deps:
	@scripts/deps.sh

# The version segl and segld report: git describe, when this is a checkout.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS := $(if $(VERSION),-X github.com/segl/segl/cmd/internal/version.stamped=$(VERSION))

build: deps
	@command -v "$$($(GO) env CC)" >/dev/null || { echo "make: no C compiler ($$($(GO) env CC)) for cgo: run make deps" >&2; exit 1; }
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/ ./cmd/segl ./cmd/segld ./cmd/segl-sms-outbox ./cmd/segl-sms-kannel ./cmd/segl-docverify-icao9303

fmt-check:
	@files=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$files" ]; then echo "gofmt would change: $$files" >&2; exit 1; fi

vet: deps
	$(GO) vet ./...
	@# The drills and the real-data tests are built by make test too, so
	@# that they cannot rot.
	$(GO) vet -tags drill ./...
	$(GO) vet -tags realdata ./...

test: deps fmt-check vet
	$(GO) test -race -count=1 -timeout 18m ./...
	@# The daemon's tests again, each daemon on a PostgreSQL database of a
	@# throwaway cluster: every flow on the other store.
	SEGL_TEST_STORE=postgres $(GO) test -race -count=1 -timeout 10m ./signer/daemon/
	@# One iteration of every benchmark, so they cannot rot between recordings.
	$(GO) test -run '^$$' -bench . -benchtime 1x -count=1 ./...

# The development daemon on the embedded defaults (SQLite, a SoftHSM token,
# certificates), all under $(DEV_DIR), made on first start.
# `. $(DEV_DIR)/env` gives a shell the same settings for segl and curl.
run: build
	exec bin/segld dev --dir $(DEV_DIR)

# Drills: fault drills at the real timings (a breaker open for a minute, a
# plugin killed every second under load), too long for make test.
drill: deps
	$(GO) test -race -count=1 -tags drill -run Drill -timeout 30m ./...

# The document verifier against real public passports and master lists,
# and the PIV attestation verifier against real YubiKeys' attestations,
# all kept outside the repository (never copied in): SEGL_ICAO_TESTDATA
# and SEGL_PIV_TESTDATA name their directories (see their PROVENANCE.md).
SEGL_ICAO_TESTDATA ?= $(abspath ../shared/testdata/icao)
SEGL_PIV_TESTDATA ?= $(abspath ../shared/testdata/piv)
realdata: deps
	SEGL_ICAO_TESTDATA=$(SEGL_ICAO_TESTDATA) $(GO) test -count=1 -tags realdata ./plugins/docverify/...
	SEGL_PIV_TESTDATA=$(SEGL_PIV_TESTDATA) $(GO) test -count=1 -tags realdata ./tokens/piv/...

# Benchmarks: figures to record in bench/RESULTS.md.
bench: deps
	bench/run.sh

# Each fuzz target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz: deps
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# make install [PREFIX=/usr/local] [DESTDIR=]: the binaries, a systemd unit
# and an example config (never over one in place).
PREFIX     ?= /usr/local
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
BINDIR     := $(PREFIX)/bin
UNITDIR    := $(PREFIX)/lib/systemd/system
DOCDIR     := $(PREFIX)/share/doc/segl
MANDIR     := $(PREFIX)/share/man/man1
# The SMS adapters, where segld's plugins[].command finds them: a directory
# only root writes, as the plugin host demands.
PLUGINDIR  := $(PREFIX)/lib/segl
install: build man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/segl $(DESTDIR)$(DOCDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(PLUGINDIR)
	install -m 0644 bin/man/segl.1 bin/man/segld.1 $(DESTDIR)$(MANDIR)/
	install -m 0755 bin/segl bin/segld $(DESTDIR)$(BINDIR)/
	install -m 0755 bin/segl-sms-kannel bin/segl-sms-outbox bin/segl-docverify-icao9303 $(DESTDIR)$(PLUGINDIR)/
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' \
		scripts/install/segld.service > $(DESTDIR)$(UNITDIR)/segld.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/segld.service
	install -m 0640 scripts/install/segl.yaml $(DESTDIR)$(SYSCONFDIR)/segl/segl.yaml.example
	install -m 0644 docs/*.md $(DESTDIR)$(DOCDIR)/

# The plugins' gRPC contracts: protoc from Debian (make deps), and the Go
# generators at the versions go.mod pins as tools.
PROTOS := $(wildcard plugins/*/*pb/*.proto)
generate: deps
	$(GO) build -o bin/tools/ google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc
	PATH="$(CURDIR)/bin/tools:$$PATH" protoc --go_out=. --go_opt=module=github.com/segl/segl \
		--go-grpc_out=. --go-grpc_opt=module=github.com/segl/segl $(PROTOS)

# Man pages, made from the commands' own definitions, in bin/man.
man: build
	@mkdir -p bin/man
	bin/segl man > bin/man/segl.1
	bin/segld man > bin/man/segld.1

clean:
	rm -rf bin
