package config

import (
	"flag"
	"testing"
)

func TestApplyEnv(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	broker := fs.String("broker", "", "")
	fps := fs.Int("fps", 30, "")
	var bits Bits = 150_000
	fs.Var(&bits, "min-bitrate", "")
	var ips List
	fs.Var(&ips, "public-ip", "")
	if err := fs.Parse([]string{"--fps", "20"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"LOCO_BROKER": "b:9090", "LOCO_FPS": "10", "LOCO_MIN_BITRATE": "2M",
		"LOCO_PUBLIC_IP": "1.2.3.4, 5.6.7.8"}
	if err := ApplyEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if *broker != "b:9090" || *fps != 20 || bits != 2_000_000 || len(ips) != 2 || ips[1] != "5.6.7.8" {
		t.Fatalf("broker %q fps %d bits %d ips %v", *broker, *fps, bits, ips)
	}
	env["LOCO_FPS"] = "many"
	fs2 := flag.NewFlagSet("t", flag.ContinueOnError)
	fs2.Int("fps", 30, "")
	_ = fs2.Parse(nil)
	if err := ApplyEnv(fs2, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err == nil {
		t.Fatal("a bad environment value was accepted")
	}
}
