package config

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/loco-cluster/loco/broker/internal/recovery"
)

func TestParseBroker(t *testing.T) {
	env := map[string]string{"LOCO_RECOVER_AFTER": "30s", "LOCO_INSTANCES": "a,b", "LOCO_HTTP_LISTEN": ":1"}
	getenv := func(k string) string { return env[k] }
	c, err := ParseBroker([]string{"--http-listen", ":2", "--recover", "dry-run"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPListen != ":2" {
		t.Errorf("flag must win over the environment: %q", c.HTTPListen)
	}
	if c.RecoverAfter != 30*time.Second || len(c.Instances) != 2 || c.Recover != recovery.ModeDryRun {
		t.Errorf("environment fallback: %+v", c)
	}
	if c.GRPCListen != ":9090" || c.AnswerTimeout != 10*time.Second || c.RecoverBackoff != time.Minute {
		t.Errorf("defaults: %+v", c)
	}
	for _, bad := range [][]string{
		{"--discovery", "consul"}, {"--recover", "maybe"}, {"--recover-after", "0s"},
		{"--recover-max-fraction", "1.5"}, {"stray"},
	} {
		if _, err := ParseBroker(bad, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := ParseBroker(nil, func(k string) string { return map[string]string{"LOCO_ANSWER_TIMEOUT": "soon"}[k] }, io.Discard); err == nil {
		t.Error("bad environment value accepted")
	}
	if _, err := ParseBroker([]string{"--discovery", "x"}, func(string) string { return "" }, io.Discard); !errors.Is(err, ErrInvalid) {
		t.Errorf("error %v does not wrap ErrInvalid", err)
	}
	if EnvName("recover-max-fraction") != "LOCO_RECOVER_MAX_FRACTION" {
		t.Error(EnvName("recover-max-fraction"))
	}
}
