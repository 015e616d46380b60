# Agent media path (agent/internal/{encode,webrtc,health,attach,instance,e2etest}, cmd/loco-agent).
# Its tests run in test-go (plain `go test ./...` in agent/); these are its benchmarks.

BENCH_TARGETS += bench-agent-media

.PHONY: bench-agent-media
bench-agent-media: ## Agent media benchmarks: encoder frame path, keyframe after PLI, agent CPU per codec and scene.
	@echo "==> agent media: encoder frame path (800x600, allocations per frame, encode ms)"
	@cd agent && go test -run XXX -bench VideoPush -benchtime 100x ./internal/encode/
	@echo "==> agent media: fan-out of one encoded frame to N viewers (allocations per frame)"
	@cd agent && go test -run XXX -bench TrackWriteFrame -benchmem ./internal/webrtc/
	@echo "==> agent media: keyframe after PLI (still screen)"
	@cd agent && go test -run XXX -bench KeyFrameAfterPLI -benchtime 20x ./internal/e2etest/
	@echo "==> agent media: loco-agent CPU at 30 fps with one viewer"
	@cd agent && go test -run XXX -bench AgentCPU -benchtime 1x ./internal/e2etest/
