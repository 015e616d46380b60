package encode

/*
#cgo pkg-config: gstreamer-1.0 gstreamer-app-1.0
#include <string.h>
#include <unistd.h>
#include <gst/gst.h>
#include <gst/app/gstappsink.h>

// loco_wake is the write end of a pipe that GStreamer's threads write a byte into when there is something to fetch.
// The mutex keeps a write from racing with the close (a write to a closed, perhaps reused, descriptor).
typedef struct {
	GMutex mu;
	int fd;
} loco_wake;

static loco_wake *loco_wake_new(int fd) {
	loco_wake *w = g_new0(loco_wake, 1);
	g_mutex_init(&w->mu);
	w->fd = fd;
	return w;
}

static void loco_wake_signal(loco_wake *w) {
	g_mutex_lock(&w->mu);
	if (w->fd >= 0) {
		char b = 1;
		(void)!write(w->fd, &b, 1); // a full pipe already holds a wake-up
	}
	g_mutex_unlock(&w->mu);
}

// loco_wake_close closes the pipe's write end (the reader sees the end of the file); later signals do nothing.
static void loco_wake_close(loco_wake *w) {
	g_mutex_lock(&w->mu);
	if (w->fd >= 0) close(w->fd);
	w->fd = -1;
	g_mutex_unlock(&w->mu);
}

// loco_wake_free is the destroy notify of the callbacks and the handler below (when the element or the bus goes).
static void loco_wake_free(gpointer p) {
	loco_wake *w = (loco_wake *)p;
	loco_wake_close(w);
	g_mutex_clear(&w->mu);
	g_free(w);
}

static void loco_wake_on_eos(GstAppSink *sink, gpointer w) { loco_wake_signal((loco_wake *)w); }

static GstFlowReturn loco_wake_on_sample(GstAppSink *sink, gpointer w) {
	loco_wake_signal((loco_wake *)w);
	return GST_FLOW_OK;
}

// loco_wake_appsink signals w for every new sample (and at EOS) of an appsink.
static void loco_wake_appsink(GstElement *sink, loco_wake *w) {
	GstAppSinkCallbacks cb;
	memset(&cb, 0, sizeof cb);
	cb.eos = loco_wake_on_eos;
	cb.new_sample = loco_wake_on_sample;
	gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cb, w, loco_wake_free);
}

static GstBusSyncReply loco_wake_on_message(GstBus *bus, GstMessage *msg, gpointer w) {
	if ((GST_MESSAGE_TYPE(msg) & (GST_MESSAGE_ERROR | GST_MESSAGE_WARNING)) == 0) return GST_BUS_DROP;
	loco_wake_signal((loco_wake *)w);
	return GST_BUS_PASS;
}

// loco_wake_bus keeps only errors and warnings on a pipeline's bus, signalling w for each.
static void loco_wake_bus(GstElement *pipeline, loco_wake *w) {
	GstBus *bus = gst_element_get_bus(pipeline);
	gst_bus_set_sync_handler(bus, loco_wake_on_message, w, loco_wake_free);
	gst_object_unref(bus);
}
*/
import "C"

import (
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"unsafe"

	"github.com/go-gst/go-gst/gst"
)

// wakeup lets a goroutine wait for something GStreamer produces (a sample in an appsink, a message on a bus) in Go's
// poller instead of in a blocking cgo call: GStreamer's thread writes a byte into a pipe, the goroutine reads it and
// then fetches without blocking. A goroutine blocked in C makes the runtime's sysmon thread take its P back after
// 10 ms and then poll every 20 µs for a millisecond, which at 30 frames a second was most of the agent's idle CPU.
type wakeup struct {
	w *C.loco_wake
	r *os.File
}

// newWakeup returns a wake-up pipe; hand it to exactly one of wakeOnSample or wakeOnBus.
func newWakeup(name string) (*wakeup, error) {
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("%w: wake-up pipe: %w", ErrPipeline, err)
	}
	return &wakeup{w: C.loco_wake_new(C.int(fds[1])), r: os.NewFile(uintptr(fds[0]), name)}, nil
}

// wakeOnSample signals u for every new sample (and at EOS) of the appsink sink. The callbacks own u's write end
// from now on.
func (u *wakeup) wakeOnSample(sink *gst.Element) { C.loco_wake_appsink(elemPtr(sink), u.w) }

// wakeOnBus signals u for every error and warning posted on p's bus and drops every other message there. The
// handler owns u's write end from now on.
func (u *wakeup) wakeOnBus(p *gst.Pipeline) {
	C.loco_wake_bus((*C.GstElement)(unsafe.Pointer(p.Unsafe())), u.w)
}

// wait blocks until there is something to fetch; false once the pipe is closed.
func (u *wakeup) wait() bool {
	var b [256]byte
	_, err := u.r.Read(b[:])
	return err == nil
}

// close ends wait with false (call it once the pipeline is stopped); the waiting goroutine closes the read end.
func (u *wakeup) close() { C.loco_wake_close(u.w) }

// watchBus logs the pipeline's errors and warnings until u is closed.
func watchBus(p *gst.Pipeline, u *wakeup, log *slog.Logger) {
	defer u.r.Close()
	bus := p.GetPipelineBus()
	for {
		for msg := bus.PopFiltered(gst.MessageError | gst.MessageWarning); msg != nil; msg = bus.PopFiltered(
			gst.MessageError | gst.MessageWarning) {
			switch msg.Type() {
			case gst.MessageError:
				gerr := msg.ParseError()
				log.Error("gstreamer error", "err", gerr.Error(), "debug", gerr.DebugString())
			case gst.MessageWarning:
				gerr := msg.ParseWarning()
				log.Warn("gstreamer warning", "err", gerr.Error(), "debug", gerr.DebugString())
			}
		}
		if !u.wait() {
			return
		}
	}
}

// pullWakeups are the wake-ups of a running pipeline: new samples in its appsink, errors and warnings on its bus.
type pullWakeups struct{ samples, bus *wakeup }

// watch creates the wake-ups of pipeline p with appsink sink and starts logging its bus.
func watch(p *gst.Pipeline, sink *gst.Element, log *slog.Logger) (*pullWakeups, error) {
	samples, err := newWakeup("appsink wake-up")
	if err != nil {
		return nil, err
	}
	bus, err := newWakeup("bus wake-up")
	if err != nil {
		samples.close()
		samples.r.Close()
		return nil, err
	}
	samples.wakeOnSample(sink)
	bus.wakeOnBus(p)
	go watchBus(p, bus, log)
	return &pullWakeups{samples: samples, bus: bus}, nil
}

// pullEach calls fn for every sample of sink until the wake-ups are closed.
func (w *pullWakeups) pullEach(sink *gst.Element, fn func(*pulled)) {
	defer w.samples.r.Close()
	var s pulled
	for {
		for s.tryPull(sink, 0) {
			fn(&s)
			s.release()
		}
		if !w.samples.wait() {
			return
		}
	}
}

// close ends pullEach and the bus watch; call it once the pipeline is stopped.
func (w *pullWakeups) close() {
	w.samples.close()
	w.bus.close()
}
