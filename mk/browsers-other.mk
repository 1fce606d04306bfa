# The page in Firefox ESR and WebKitGTK (tests/browsers, see its playwright.config.ts and drivers.ts).
#   make test-browsers-other   sd15 through the labelled inputs (download verified byte for byte), a wrong
#                              file's error, Cancel keeping nothing, offline reload; per browser
#   make bench-browsers-other  BENCH_ARCH (default sd15): copy ratio vs plain JS, click → file per sink ÷ the browser's own
#                              floor (BENCH_RUNS, default 3; name: value lines, also in build/bench/browsers-other.txt)
# Debian's firefox-esr (driven by puppeteer-core over WebDriver BiDi) and webkit2gtk-driver
# (WebKitWebDriver and MiniBrowser, driven by selenium-webdriver under xvfb); nothing is downloaded.
# build/bin/serve: mk/web.mk (included after this file, hence the path spelled out).
.PHONY: test-browsers-other bench-browsers-other other-browsers
TEST_TARGETS += test-browsers-other
BENCH_TARGETS += bench-browsers-other

OTHER_BROWSERS := /usr/bin/firefox-esr:firefox-esr /usr/bin/WebKitWebDriver:webkit2gtk-driver /usr/bin/Xvfb:xvfb

# apt-get install the packages whose program is missing.
other-browsers:
	@missing=; for pair in $(OTHER_BROWSERS); do [ -x "$${pair%%:*}" ] || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then $(APT_INSTALL) $$missing; fi

test-browsers-other: $(NPM_STAMP) other-browsers build-web build/bin/serve
	FIXTURES=$(FIXTURES) npx playwright test -c tests/browsers/playwright.config.ts

bench-browsers-other: $(NPM_STAMP) other-browsers build-web build/bin/serve
	FIXTURES=$(FIXTURES) CKPT_BENCH=1 npx playwright test -c tests/browsers/playwright.config.ts
