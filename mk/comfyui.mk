# ComfyUI custom-node package (comfyui/) and its tests (tests/comfyui/).
#   make comfyui-extension  builds build/comfyui/ckptpack/ and build/comfyui/ckptpack.zip
#   make test-comfyui       type-checks the extension, runs it in a fake ComfyUI page,
#                           then in the real ComfyUI frontend (test-comfyui-real)
#   make test-comfyui-real  only the real-frontend suite: the frontend build from
#                           COMFYUI_FRONTEND_DIST (default ../shared/comfyui-frontend/dist)
#                           under tests/comfyui/real-frontend/backend.mjs, on port
#                           CKPT_COMFYUI_REAL_PORT (default 8194)
.PHONY: comfyui-extension comfyui-typecheck test-comfyui test-comfyui-real
TEST_TARGETS += test-comfyui

COMFYUI_OUT := build/comfyui
COMFYUI_TSC_OUT := $(COMFYUI_OUT)/tsc

# The package reuses the site's saver UI and engine: build-web puts
# worker.js, wasm_exec.js and ckptpack.wasm into web/.
comfyui-extension: build-web $(NPM_STAMP)
	rm -rf $(COMFYUI_TSC_OUT)
	npx tsc -p comfyui/tsconfig.json --outDir $(COMFYUI_TSC_OUT)
	node comfyui/tools/package.mjs --site web --entry $(COMFYUI_TSC_OUT)/ckptpack.js \
		--package comfyui --out $(COMFYUI_OUT) $(if $(wildcard LICENSE),--license LICENSE)

# Fails on any type error against @comfyorg/comfyui-frontend-types, and on a
# type package that no longer constrains anything (tests/comfyui/types-enforced.ts).
comfyui-typecheck: $(NPM_STAMP)
	npx tsc --noEmit -p comfyui/tsconfig.json
	npx tsc --noEmit -p tests/comfyui/tsconfig.json

test-comfyui: comfyui-typecheck comfyui-extension $(CHROMIUM) unzip-python3
	python3 -B tests/comfyui/check_package.py $(COMFYUI_OUT)/ckptpack $(COMFYUI_OUT)/ckptpack.zip
	npx playwright test -c tests/comfyui/playwright.config.ts
	$(MAKE) --no-print-directory test-comfyui-real

# Without the frontend build the suite cannot run: the target fails, saying how
# to get it (always in CI). Outside CI, CKPT_ALLOW_NO_FRONTEND=1 lets the rest
# of `make test` go on; the suite is then reported NOT RUN, never as passed.
test-comfyui-real: comfyui-extension $(CHROMIUM) unzip-python3
	@status=0; node tests/comfyui/real-frontend/frontend-dist.mjs || status=$$?; \
	if [ $$status = 3 ]; then \
		echo "test-comfyui-real: NOT RUN: the real ComfyUI frontend suite did not run (no frontend build, CKPT_ALLOW_NO_FRONTEND=1)"; \
	elif [ $$status != 0 ]; then \
		exit 1; \
	else \
		npx playwright test -c tests/comfyui/real-frontend.config.ts; \
	fi

# The README's screenshot of the tab in the real frontend (docs/comfyui-tab.png).
.PHONY: comfyui-screenshot
comfyui-screenshot: comfyui-extension $(CHROMIUM) unzip-python3
	node tests/comfyui/real-frontend/screenshot.mjs docs/comfyui-tab.png
