# ComfyUI custom-node package (comfyui/) and its tests (tests/comfyui/).
#   make comfyui-extension  builds build/comfyui/ckptpack/ and build/comfyui/ckptpack.zip
#   make test-comfyui       type-checks the extension and runs it in a fake ComfyUI page
.PHONY: comfyui-extension comfyui-typecheck test-comfyui
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
