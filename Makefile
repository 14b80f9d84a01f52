# theus: `make demo` runs the demo workflow, `make test` runs every test. Both set up what
# they need first (Debian packages through apt-get, a venv with theus installed).

SHELL := /bin/bash
PY ?= /usr/bin/python3
VENV := .venv
VPY := $(VENV)/bin/python
export PATH := /usr/local/go/bin:$(PATH)
export GOFLAGS := -buildvcs=false
PURE := ./kernel/... ./flux/...
DEB := python3-dev python3-venv python3-pip python3-setuptools python3-wheel python3-pytest \
       python3-numpy python3-hypothesis python3-ipykernel python3-nbclient python3-nbformat gcc

.PHONY: help deps build test test-go test-py bench demo check-boundary fmt clean wheel-check fuzz

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

deps: ## install the Debian packages theus needs (once; quiet when present)
	@missing=$$(for p in $(DEB); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	fi
	@command -v go >/dev/null || { echo "Go >= 1.26 is needed at /usr/local/go or on PATH"; exit 1; }

$(VPY):
	$(PY) -m venv --system-site-packages $(VENV)

build: deps $(VPY) ## build the extension and install theus into .venv
	$(VPY) -m pip install -q --no-build-isolation --no-index --no-deps --force-reinstall .

test: deps build check-boundary test-go test-py wheel-check ## run every test (Go, race, Python, wheel install)

test-go: ## Go tests: pure packages without cgo, then with -race
	CGO_ENABLED=0 go test -count=1 $(PURE)
	go test -race -count=1 $(PURE)
	CGO_CFLAGS="-I$$($(PY) -c 'import sysconfig;print(sysconfig.get_paths()["include"])')" go vet ./...

test-py: ## pytest against the installed package (not the source tree)
	cd tests && ../$(VPY) -m pytest -q -p no:cacheprovider .

check-boundary: ## kernel/ and flux/ build without cgo; import "C" only where allowed; gofmt clean
	CGO_ENABLED=0 go build $(PURE)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.venv/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	@bad=$$(grep -rl 'import "C"' --include='*.go' . | grep -v -E '^\./(capi|pyproxy|heavy)/' || true); \
	if [ -n "$$bad" ]; then echo "import \"C\" outside capi/, pyproxy/, heavy/: $$bad"; exit 1; fi

FUZZTIME ?= 10s
fuzz: ## run every Go fuzz target in flux/ and kernel/ for FUZZTIME each (crashers land in testdata/fuzz/)
	@for pkg in ./flux ./kernel; do \
	  for f in $$(CGO_ENABLED=0 go test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    CGO_ENABLED=0 go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

bench: deps build ## benchmarks, each beside its baseline
	go test -run '^$$' -bench . -benchmem $(PURE)
	$(VPY) benchmarks/run.py

demo: deps build ## run the demo on the embedded default state
	$(VPY) -m theus.demo

wheel-check: deps $(VPY) ## build a wheel and install it into a fresh venv
	rm -rf build/wheel-check && mkdir -p build/wheel-check
	$(VPY) -m pip wheel -q --no-build-isolation --no-index --no-deps -w build/wheel-check .
	$(PY) -m venv --system-site-packages build/wheel-check/venv
	build/wheel-check/venv/bin/pip install -q --no-index build/wheel-check/*.whl
	cd /tmp && $(CURDIR)/build/wheel-check/venv/bin/python -c 'import theus; s = theus.State({"domain": {"x": 0}}); print("wheel ok, version", s.compare_and_swap(0, {"domain.x": 1}))'

fmt: ## gofmt the Go code
	gofmt -w $$(git ls-files '*.go')

clean: ## remove build products and the venv
	rm -rf $(VENV) build dist python/*.egg-info python/theus/_core*.so
