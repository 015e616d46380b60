# Agent VNC side (issue 3, helper agent-rfb): agent/internal/{rfb,capture,input,vncsynth}, cmd/loco-vncsynth.
# Their tests (real QEMU, the synthetic VNC server, fuzz seed corpora) run in test-go.
#   make bench-agent-rfb  Raw decoder and frame-path benchmarks (MB/s, allocs/op)
#   make fuzz-agent-rfb   each fuzzer for FUZZTIME (default 20s)
BENCH_TARGETS += bench-agent-rfb

FUZZTIME ?= 20s

.PHONY: bench-agent-rfb fuzz-agent-rfb

bench-agent-rfb: ## Benchmarks of the RFB Raw decoder and the frame path.
	@echo "==> agent rfb/capture benchmarks"
	@cd agent && go test -run '^$$' -bench . -benchmem ./internal/rfb/ ./internal/capture/

fuzz-agent-rfb: ## Run the RFB and input fuzzers for FUZZTIME each.
	@cd agent && for f in FuzzReadUpdate FuzzSession FuzzHandshake; do go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) ./internal/rfb/ || exit 1; done
	@cd agent && for f in FuzzDecode FuzzHandle; do go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) ./internal/input/ || exit 1; done
