# Web UI (issue 5): React + TypeScript + Vite + Tailwind in web/, embedded into the broker.
#   make web           build web/dist and copy it into broker/internal/webui/dist (the broker's go:embed folder)
#   make test-web      Vitest unit tests (WHEP client, input encoder, state logic)
#   make lint-web      eslint and the TypeScript type check
#   make test-web-e2e  Playwright (playwright-core + Debian chromium) against a real broker, real agents and
#                      synthetic VNC servers (web/e2e/ui.test.mjs), and with private PulseAudio servers playing
#                      tones into the agents' audio (web/e2e/audio.test.mjs), and on the demo guest under QEMU
#                      (web/e2e/guest.test.mjs: state strip read from the video); screenshots go to web/e2e/out/
#                      (WEB_E2E_SHOTS=docs/img writes the README's pictures)
# hack/setup runs `npm ci` in web/ whenever web/package-lock.json changes.
TEST_TARGETS += test-web test-web-e2e
LINT_TARGETS += lint-web

WEBUI_DIST := broker/internal/webui/dist

.PHONY: web test-web lint-web test-web-e2e

web: ## Build the web UI and put it where the broker embeds it.
	@echo "==> web build"
	@cd web && npm run --silent build
	@find $(WEBUI_DIST) -mindepth 1 ! -name .gitkeep ! -name .gitignore -delete
	@cp -R web/dist/. $(WEBUI_DIST)/

test-web: ## Web unit tests (Vitest).
	@echo "==> web unit tests (vitest)"
	@cd web && npx vitest run

lint-web:
	@echo "==> web lint (eslint, tsc)"
	@cd web && npx eslint . && npx tsc -b

test-web-e2e: web ## Browser end-to-end tests against the real broker and agents.
	@echo "==> web e2e (playwright-core, chromium, loco-broker, loco-agent, loco-vncsynth, PulseAudio, QEMU demo guest)"
	@cd web && node --test --test-concurrency=1 --test-timeout=1200000 e2e/
