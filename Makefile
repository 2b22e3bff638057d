# Smart Work Centers door network: build, test and run.
# Every target works from a fresh clone with only Go installed; what else a
# target needs (qemu for test-arm) it installs itself and says so.

GO          ?= go
BIN         ?= bin
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
TEST_FLAGS  ?= -count=1 -timeout 30m
# Packages compiled for 32-bit ARM and run under qemu by test-arm.
ARM_PKGS    ?= ./edge/... ./shared/...
# Version of the .deb packages and of swc-edge's firmware string.
VERSION     ?= 0.1.0
SUDO        := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# What `swc-edge --version` and `swc-central --version` print: the version,
# the commit and the build date (SOURCE_DATE_EPOCH when set, for
# reproducible packages). A plain `go build` prints "devel" and what Go
# recorded of the commit.
COMMIT      ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
DATE        ?= $(shell date -u -d "@$${SOURCE_DATE_EPOCH:-$$(date +%s)}" +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS     := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

.PHONY: all build test demo bench lint cross test-arm package clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" ./...

## test: every test. Tests that need Mosquitto or PostgreSQL run when
## SWC_TEST_MOSQUITTO / SWC_TEST_POSTGRES_URL are set and skip otherwise
## (SWC_REQUIRE_SERVICES=1 turns those skips into failures; .ci/run sets all three).
test:
	$(GO) test $(TEST_FLAGS) ./...

## demo: the embedded default on this machine: swc-central (embedded broker,
## SQLite) and six simulated doors, each its own swc-edge process. Ctrl-C stops all.
demo:
	@$(GO) build -o $(BIN)/swc-demo ./scripts/demo
	@$(BIN)/swc-demo $(DEMO_FLAGS)

## bench: every Go benchmark of the project and the 1,000-door fleet scenario,
## written to BENCHMARKS.md beside PRODUCT.md's targets (under 10 minutes). Set
## SWC_TEST_POSTGRES_URL and SWC_TEST_MOSQUITTO for the benchmarks that need them;
## BENCH_FLAGS passes flags such as --skip-fleet. BENCH_FLAGS='--fleet-doors 1000,10000'
## also runs the 10,000-door fleet after the 1,000-door one (10-15 more minutes on
## 2 cores, stopped after 22 at most); the report gives each size its own lines.
bench:
	$(GO) run ./scripts/bench $(BENCH_FLAGS)

## lint: formatting, go vet and staticcheck (fetched by go run, nothing installed by hand).
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## cross: release binaries for the Pi (armv6, armv7, arm64) and the central (amd64, arm64).
cross:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=6 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/swc-edge-linux-armv6 ./edge/cmd/swc-edge
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/swc-edge-linux-armv7 ./edge/cmd/swc-edge
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/swc-edge-linux-arm64 ./edge/cmd/swc-edge
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/swc-central-linux-amd64 ./central/cmd/swc-central
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/swc-central-linux-arm64 ./central/cmd/swc-central
	@ls -l $(BIN)

## test-arm: edge and shared tests built for 32-bit ARMv6 (Pi Zero) and run under qemu.
## Tests that start child processes read SWC_TEST_EXEC to run them under qemu too.
test-arm:
	@command -v qemu-arm-static >/dev/null 2>&1 || { \
		echo "test-arm: qemu-arm-static is missing; installing Debian's qemu-user-static with apt-get"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static; }
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=6 SWC_TEST_EXEC=qemu-arm-static \
		$(GO) test $(TEST_FLAGS) -exec qemu-arm-static $(ARM_PKGS)

## package: the four .deb files in dist/ (swc-edge armhf and arm64, swc-central
## amd64 and arm64), built with nfpm through `go run` from stripped binaries
## (-s -w) the script builds into dist/bin, and checked with dpkg-deb (--info
## and --contents must show the binary, the systemd units, a configuration
## example, the copyright and changelog) and lintian (an error fails; Debian's
## lintian package is installed with apt-get when missing).
PACKAGE_LDFLAGS ?= $(LDFLAGS)
package:
	@command -v lintian >/dev/null 2>&1 || { \
		echo "package: lintian is missing; installing Debian's lintian with apt-get"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lintian; }
	$(GO) run ./scripts/package --version $(VERSION) --ldflags "$(PACKAGE_LDFLAGS)" --out dist

clean:
	rm -rf $(BIN) dist
