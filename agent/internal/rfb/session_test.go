package rfb

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/loco-cluster/loco/agent/internal/capture"
)

// serverPreamble is an RFB 3.8 server's side of the handshake, no authentication, a 16x8 32-bit screen.
func serverPreamble() []byte {
	b := []byte("RFB 003.008\n")
	b = append(b, 1, 1)       // one security type: None
	b = append(b, 0, 0, 0, 0) // SecurityResult OK
	b = append(b, 0, 16, 0, 8)
	b = append(b, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, 4)
	return append(b, "fuzz"...)
}

// runScripted runs one client session against a server that sends the preamble, then script, then closes.
func runScripted(t testing.TB, script []byte, linger time.Duration) error {
	return runServer(t, append(serverPreamble(), script...), linger)
}

// runServer runs one client session against a server that sends stream, then closes when the client does or
// after linger.
func runServer(t testing.TB, stream []byte, linger time.Duration) error {
	fb := &capture.Framebuffer{}
	c := New(Config{Addr: "pipe", Framebuffer: fb, Logger: slog.New(slog.DiscardHandler), UpdateTimeout: time.Second})
	c.dialer = func(context.Context) (net.Conn, error) {
		cli, srv := net.Pipe()
		go func() {
			drained := make(chan struct{})
			go func() { _, _ = io.Copy(io.Discard, srv); close(drained) }()
			_, _ = srv.Write(stream)
			// Stay open a moment (the client may still be writing), then close.
			select {
			case <-drained:
			case <-time.After(linger):
			}
			_ = srv.Close()
		}()
		return cli, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	worked, err := c.Session(ctx)
	if ctx.Err() != nil {
		t.Fatalf("session did not end: %v", err)
	}
	if err == nil {
		t.Fatal("session ended without an error")
	}
	_ = worked
	return err
}

func TestSessionScripts(t *testing.T) {
	cases := []struct {
		name   string
		script []byte
		want   error
	}{
		{"clean close", nil, ErrConnectionLost},
		{"bell, colour map and cut text are skipped", append([]byte{2, 1, 0, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 3, 0, 0, 0, 0, 0, 0, 2, 'h', 'i'}, 99), ErrUnknownMessage},
		{"update then unknown encoding", append(append([]byte{0}, update(1, rawRect(nil, 0, 0, 16, 8))...), fbUpdate(0, 0, 1, 1, 5)...), ErrUnknownEncoding},
		{"truncated colour map", []byte{1, 0, 0, 0, 0, 9}, ErrConnectionLost},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := runScripted(t, tc.script, time.Second); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzSession runs whole client sessions against servers that send arbitrary bytes after the handshake: every
// session must end with an error, never a panic or a hang.
func FuzzSession(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{2, 2, 2})
	f.Add(append([]byte{0}, update(1, rawRect(nil, 0, 0, 16, 8))...))
	f.Add(fbUpdate(0, 0, 32, 32, EncodingDesktopSize))
	f.Add([]byte{1, 0, 0, 250, 0, 20})
	f.Add([]byte{3, 0, 0, 0, 0, 0, 0, 3, 'a', 'b', 'c'})
	f.Add([]byte{255, 1, 0, 1})
	f.Fuzz(func(t *testing.T, script []byte) {
		_ = runScripted(t, script, 100*time.Millisecond)
	})
}

func TestHandshakeGuard(t *testing.T) {
	pre := serverPreamble()
	hugeName := append(append([]byte(nil), pre[:len(pre)-8]...), 0xff, 0xff, 0xff, 0xff)
	noTypes := append([]byte("RFB 003.008\n"), 0, 0xff, 0xff, 0xff, 0xf0)
	failed := append([]byte("RFB 003.008\n"), 1, 1, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff)
	politeFailure := append([]byte("RFB 003.008\n"), 1, 1, 0, 0, 0, 1, 0, 0, 0, 2, 'n', 'o')
	cases := []struct {
		name   string
		stream []byte
		want   []error
	}{
		{"huge desktop name", hugeName, []error{ErrHandshake, ErrMalformed}},
		{"no security types, huge reason", noTypes, []error{ErrHandshake, ErrMalformed}},
		{"security failure, huge reason", failed, []error{ErrHandshake, ErrMalformed}},
		{"security failure", politeFailure, []error{ErrHandshake}},
		{"old protocol", []byte("RFB 003.003\n"), []error{ErrHandshake}},
		{"not RFB", []byte("HTTP/1.1 400 Bad Request\r\n"), []error{ErrHandshake}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := runServer(t, tc.stream, time.Second)
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Fatalf("err %v, want %v", err, w)
				}
			}
			t.Logf("%v", err)
		})
	}
}

// FuzzHandshake runs sessions against servers that send arbitrary bytes from the start.
func FuzzHandshake(f *testing.F) {
	f.Add(serverPreamble())
	f.Add([]byte("RFB 003.008\n"))
	f.Add(append([]byte("RFB 003.008\n"), 0, 0, 0, 0, 3, 'b', 'a', 'd'))
	f.Add(append([]byte("RFB 003.008\n"), 2, 1, 2, 0, 0, 0, 0))
	f.Fuzz(func(t *testing.T, stream []byte) {
		_ = runServer(t, stream, 100*time.Millisecond)
	})
}
