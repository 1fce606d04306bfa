# ckptpack: `make serve` builds and serves the site on 127.0.0.1:8080,
# `make test` runs every test. Each installs what it needs.
# Area-specific targets live in mk/*.mk, one file per area.

SHELL := /bin/bash
GO ?= go
NPM_STAMP := node_modules/.ckptpack-npm-ci
CHROMIUM := /usr/bin/chromium
# Generated fixtures (hundreds of MB to GB): outside the tree's tracked files.
FIXTURES ?= $(CURDIR)/build/fixtures

.PHONY: all deps npm chromium test bench serve dist comfyui-extension clean
all: dist

deps: npm chromium other-browsers

npm: $(NPM_STAMP)
$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Debian packages the tests run: apt-get install whatever is missing.
APT_INSTALL = if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y

# Debian's chromium: Playwright's own browser download does not work here.
chromium: $(CHROMIUM)
$(CHROMIUM):
	@$(APT_INSTALL) chromium

# unzip and python3 for the ComfyUI package checks.
.PHONY: unzip-python3
unzip-python3:
	@missing=; for c in unzip python3; do command -v $$c >/dev/null || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then $(APT_INSTALL) $$missing; fi

include $(sort $(wildcard mk/*.mk))

# Every test. The browser (Chromium, then Firefox and WebKit) and ComfyUI
# suites run first and alone (they generate the shared fixtures); then the
# Cloudflare Worker's suite (one CPU-bound workerd process) runs beside the Go and worker suites (mostly
# disk-bound), which keeps the whole run within CI's 30 minutes on 2 cores.
test:
	$(MAKE) test-browser test-browsers-other test-comfyui
	$(MAKE) -j2 --output-sync=recurse test-edge test-go-then-worker

.PHONY: test-go-then-worker
test-go-then-worker:
	$(MAKE) -j1 test-go test-worker

# TEST_TARGETS (from mk/*.mk) must all be reached by `test` above.
TESTS_RUN := test-browser test-browsers-other test-comfyui test-edge test-go test-worker
$(if $(filter-out $(TESTS_RUN),$(TEST_TARGETS)),$(error test targets not run by `make test`: $(filter-out $(TESTS_RUN),$(TEST_TARGETS))))
bench: $(BENCH_TARGETS)

clean:
	rm -rf build dist
