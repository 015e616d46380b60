// Package guest finds and builds the demo guest for tests and tools: [Build] runs hack/guest/build (a no-op when
// the cache already holds the current build) and returns the directory with vmlinuz, initrd.gz and cmdline, the
// --guest-dir of `loco-agent --profile demo`. The guest program itself is ./init, its state strip decoder
// ./strip, the decoder of its world band (the art drive's files, the other towns heard) ./world; this package's
// test runs the local runner (hack/run) end to end.
package guest
