# theus: `make demo` runs the demo workflow, `make test` runs every test. Both set up what they
# need first: the system pieces from Debian (apt-get), then a plain venv (.venv) holding the
# pinned development packages from PyPI (requirements/dev.txt) and theus built from this tree.

SHELL := /bin/bash
PY ?= /usr/bin/python3
VENV := .venv
VPY := $(VENV)/bin/python
PINS := requirements/dev.txt
DIST := build/dist
export PATH := /usr/local/go/bin:$(PATH)
export GOFLAGS := -buildvcs=false
export THEUS_WERROR := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
PURE := ./kernel/... ./flux/... ./heavy/...
# System pieces only: the C compiler for cgo, the Python headers, venv, graphviz's binaries.
DEB := gcc python3-dev python3-venv graphviz
# Only for make bench-instructions: callgrind counts instructions.
DEB_INSTRUCTIONS := valgrind

.PHONY: help deps venv build test test-go test-py bench bench-instructions bench-peers demo check-boundary fmt clean wheel-check fuzz

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

deps: ## install the Debian packages theus needs (once; quiet when present)
	@missing=$$(for p in $(DEB) $(DEB_EXTRA); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@command -v go >/dev/null || { echo "theus: Go >= 1.26 is needed at /usr/local/go/bin or on PATH (https://go.dev/dl)"; exit 1; }

venv: deps $(VENV)/.pins ## the plain venv with the pinned development packages

# A fresh venv whenever the pins change, so it holds exactly what requirements/dev.txt says.
$(VENV)/.pins: $(PINS)
	rm -rf $(VENV)
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q $$(grep '^pip==' $(PINS))
	$(VPY) -m pip install -q -r $(PINS)
	touch $@

build: venv ## build the extension and install theus into .venv
	$(VPY) -m pip install -q --no-build-isolation --no-deps --force-reinstall .

test: deps build check-boundary test-go wheel-check test-py ## run every test (Go, race, Python, wheel, sdist, pip install .)

test-go: ## Go tests: pure packages without cgo, then with -race
	CGO_ENABLED=0 go test -count=1 $(PURE)
	go test -race -count=1 $(PURE)
	CGO_CFLAGS="-I$$($(PY) -c 'import sysconfig;print(sysconfig.get_paths()["include"])') -Wall -Wextra -Wno-unused-parameter -Werror" go vet ./...
	@# cgo's generated code needs -Wno-unused-parameter above; our own C keeps the full -Wextra
	gcc -fsyntax-only -Wall -Wextra -Werror -I$$($(PY) -c 'import sysconfig;print(sysconfig.get_paths()["include"])') pyproxy/*.c capi/py/*.c

test-py: ## pytest against the installed package (not the source tree)
	cd tests && ../$(VPY) -m pytest -q -p no:cacheprovider -m "not dist" .

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

bench: build ## benchmarks, each beside its baseline
	go test -run '^$$' -bench . -benchmem $(PURE)
	$(VPY) benchmarks/run.py

# Instructions per operation (read, get, in, items, commit, execute, engine.state, a key read
# through it, a Flux step, a whole-branch read after a change, to_dict, a 100-path commit)
# under callgrind, each beside its plain-Python baseline: stable where timings are noisy.
# valgrind comes from Debian for this target only.
bench-instructions: ## instruction counts per operation under callgrind, beside the baselines
	$(MAKE) deps DEB_EXTRA="$(DEB_INSTRUCTIONS)"
	$(MAKE) build
	benchmarks/instructions/run.sh $(VPY)

# The peers, each measured in a subprocess of its own venv (never beside this theus): Burr,
# LangGraph, pyrsistent and immutables in one CPython 3.11 venv; theus 3.0.25, the Rust
# implementation, which shares the import name theus and needs CPython >= 3.12, in another.
# Each venv is made afresh when its pins change. Not part of `make test`.
PEERS_DIR := build/peers-venv
PEERS_RS_DIR := build/peers-venv-theus-rs
PEERS_PINS := benchmarks/peers/requirements.txt
PEERS_RS_PINS := benchmarks/peers/requirements-theus-rs.txt
PY312 ?=

$(PEERS_DIR)/.pins: $(PEERS_PINS)
	rm -rf $(PEERS_DIR)
	$(PY) -m venv $(PEERS_DIR)
	$(PEERS_DIR)/bin/python -m pip install -q -r $(PEERS_PINS)
	touch $@

$(PEERS_RS_DIR)/.pins: $(PEERS_RS_PINS)
	rm -rf $(PEERS_RS_DIR)
	@py=$$(for c in $(PY312) python3.12 python3.13 $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3; do \
	  "$$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo "$$c"; break; }; done); \
	if [ -z "$$py" ]; then echo "bench-peers: no CPython >= 3.12 (set PY312=...): theus 3.0.25 will show as failed"; exit 0; fi; \
	echo "theus 3.0.25 venv from $$py"; \
	"$$py" -m venv $(PEERS_RS_DIR) && $(PEERS_RS_DIR)/bin/python -m pip install -q -r $(PEERS_RS_PINS) && touch $@

bench-peers: build $(PEERS_DIR)/.pins $(PEERS_RS_DIR)/.pins ## theus beside Burr, LangGraph, pyrsistent, immutables and theus 3.0.25 (Rust), each in its own venv
	$(VPY) benchmarks/peers/run_peers.py build/peers-out theus=$(VPY) theus-rs=$(PEERS_RS_DIR)/bin/python \
	  burr=$(PEERS_DIR)/bin/python langgraph=$(PEERS_DIR)/bin/python \
	  pyrsistent=$(PEERS_DIR)/bin/python immutables=$(PEERS_DIR)/bin/python

demo: build ## run the demo on the embedded default state, then the order agent example
	$(VPY) -m theus.demo
	$(VPY) examples/order_agent.py

# The release route, with build isolation (build requirements from PyPI): the sdist, the wheel
# built from that sdist, repaired and tagged manylinux by auditwheel; then tests/packaging
# installs it into a venv without Go, and checks `pip install .` from a copy of the tree.
wheel-check: venv ## build sdist + manylinux wheel with isolation and test every install route
	rm -rf $(DIST)
	$(VPY) -m build -q --outdir $(DIST) .
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/auditwheel repair -w $(DIST)/wheelhouse $(DIST)/*.whl
	cd tests && THEUS_DIST_DIR=$(CURDIR)/$(DIST) ../$(VPY) -m pytest -q -p no:cacheprovider -m dist packaging

fmt: ## gofmt the Go code
	gofmt -w $$(git ls-files '*.go')

clean: ## remove build products and the venv
	rm -rf $(VENV) build dist python/*.egg-info python/theus/_core*.so
