package encode

/*
#cgo pkg-config: gstreamer-1.0 gstreamer-app-1.0 gstreamer-video-1.0
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <gst/gst.h>
#include <gst/app/gstappsrc.h>
#include <gst/app/gstappsink.h>
#include <gst/video/video.h>

// loco_push copies h rows of rowBytes bytes (source stride `stride`) into a new buffer and pushes it into appsrc.
static GstFlowReturn loco_push(GstElement *src, const guint8 *pix, gsize stride, gsize rowBytes, gsize h,
                               GstClockTime pts, GstClockTime dur) {
	gsize n = rowBytes * h;
	GstBuffer *buf = gst_buffer_new_allocate(NULL, n, NULL);
	if (buf == NULL) return GST_FLOW_ERROR;
	GstMapInfo map;
	if (!gst_buffer_map(buf, &map, GST_MAP_WRITE)) { gst_buffer_unref(buf); return GST_FLOW_ERROR; }
	if (stride == rowBytes) {
		memcpy(map.data, pix, n);
	} else {
		for (gsize y = 0; y < h; y++) memcpy(map.data + y * rowBytes, pix + y * stride, rowBytes);
	}
	gst_buffer_unmap(buf, &map);
	GST_BUFFER_PTS(buf) = pts;
	GST_BUFFER_DTS(buf) = pts;
	GST_BUFFER_DURATION(buf) = dur;
	return gst_app_src_push_buffer(GST_APP_SRC(src), buf);
}

// loco_set_video_caps sets BGRx caps of the given size on appsrc.
static void loco_set_video_caps(GstElement *src, int w, int h, int fps) {
	GstCaps *caps = gst_caps_new_simple("video/x-raw",
		"format", G_TYPE_STRING, "BGRx",
		"width", G_TYPE_INT, w,
		"height", G_TYPE_INT, h,
		"framerate", GST_TYPE_FRACTION, fps, 1,
		"pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1,
		NULL);
	gst_app_src_set_caps(GST_APP_SRC(src), caps);
	gst_caps_unref(caps);
}

// loco_pulled describes one sample pulled from appsink.
typedef struct {
	GstSample *sample;
	GstBuffer *buffer;
	GstMapInfo map;
	GstClockTime pts;
	GstClockTime dur;
	int delta;
	int width;
	int height;
} loco_pulled;

static int loco_fill(loco_pulled *p) {
	p->buffer = gst_sample_get_buffer(p->sample);
	if (p->buffer == NULL || !gst_buffer_map(p->buffer, &p->map, GST_MAP_READ)) {
		gst_sample_unref(p->sample);
		p->sample = NULL;
		p->map.size = 0;
		return 2;
	}
	p->pts = GST_BUFFER_PTS(p->buffer);
	p->dur = GST_BUFFER_DURATION(p->buffer);
	p->delta = GST_BUFFER_FLAG_IS_SET(p->buffer, GST_BUFFER_FLAG_DELTA_UNIT) ? 1 : 0;
	p->width = 0;
	p->height = 0;
	GstCaps *caps = gst_sample_get_caps(p->sample);
	if (caps != NULL && gst_caps_get_size(caps) > 0) {
		GstStructure *st = gst_caps_get_structure(caps, 0);
		gst_structure_get_int(st, "width", &p->width);
		gst_structure_get_int(st, "height", &p->height);
	}
	return 1;
}

// loco_try_pull waits up to timeout (nanoseconds) for a sample: 1 with the buffer mapped (release it with
// loco_release), 2 for a sample that could not be mapped, 0 on timeout, EOS or stop.
static int loco_try_pull(GstElement *sink, loco_pulled *p, GstClockTime timeout) {
	p->sample = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), timeout);
	if (p->sample == NULL) return 0;
	return loco_fill(p);
}

// loco_push_bytes pushes a copy of data into appsrc.
static GstFlowReturn loco_push_bytes(GstElement *src, const guint8 *data, gsize n, GstClockTime pts) {
	GstBuffer *buf = gst_buffer_new_allocate(NULL, n, NULL);
	if (buf == NULL) return GST_FLOW_ERROR;
	gst_buffer_fill(buf, 0, data, n);
	GST_BUFFER_PTS(buf) = pts;
	return gst_app_src_push_buffer(GST_APP_SRC(src), buf);
}

static void loco_release(loco_pulled *p) {
	if (p->sample == NULL) return;
	gst_buffer_unmap(p->buffer, &p->map);
	gst_sample_unref(p->sample);
	p->sample = NULL;
}

static guint8 *loco_data(loco_pulled *p) { return p->map.data; }
static gsize loco_size(loco_pulled *p) { return p->map.size; }

// loco_force_key_unit asks the encoder upstream of sink for a keyframe with headers.
static gboolean loco_force_key_unit(GstElement *sink) {
	GstEvent *ev = gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, 0);
	return gst_element_send_event(sink, ev);
}

// Encode timing: the time a buffer enters the converter (entry probe) to the time the encoder outputs it (exit
// probe), both on the pipeline's one streaming thread, keyed by the output PTS.
typedef struct {
	GMutex mu;
	gint64 entered;
	GstClockTime pts[16];
	gint64 took[16];
	int pos;
} loco_timing;

static GstPadProbeReturn loco_timing_entry(GstPad *pad, GstPadProbeInfo *info, gpointer user) {
	loco_timing *t = (loco_timing *)user;
	g_mutex_lock(&t->mu);
	t->entered = g_get_monotonic_time();
	g_mutex_unlock(&t->mu);
	return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn loco_timing_exit(GstPad *pad, GstPadProbeInfo *info, gpointer user) {
	loco_timing *t = (loco_timing *)user;
	GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
	if (buf == NULL) return GST_PAD_PROBE_OK;
	g_mutex_lock(&t->mu);
	if (t->entered != 0) {
		t->pts[t->pos] = GST_BUFFER_PTS(buf);
		t->took[t->pos] = g_get_monotonic_time() - t->entered;
		t->pos = (t->pos + 1) % 16;
		t->entered = 0;
	}
	g_mutex_unlock(&t->mu);
	return GST_PAD_PROBE_OK;
}

static loco_timing *loco_timing_attach(GstElement *entry, GstElement *exit) {
	loco_timing *t = g_new0(loco_timing, 1);
	g_mutex_init(&t->mu);
	GstPad *in = gst_element_get_static_pad(entry, "sink");
	GstPad *out = gst_element_get_static_pad(exit, "src");
	if (in != NULL) {
		gst_pad_add_probe(in, GST_PAD_PROBE_TYPE_BUFFER, loco_timing_entry, t, NULL);
		gst_object_unref(in);
	}
	if (out != NULL) {
		gst_pad_add_probe(out, GST_PAD_PROBE_TYPE_BUFFER, loco_timing_exit, t, NULL);
		gst_object_unref(out);
	}
	return t;
}

// loco_timing_lookup returns the microseconds the buffer with output PTS pts took, or -1.
static gint64 loco_timing_lookup(loco_timing *t, GstClockTime pts) {
	gint64 r = -1;
	g_mutex_lock(&t->mu);
	for (int i = 0; i < 16; i++) {
		if (t->pts[i] == pts && t->took[i] >= 0) { r = t->took[i]; t->took[i] = -1; break; }
	}
	g_mutex_unlock(&t->mu);
	return r;
}

// Audio level: sums of squares of S16 samples entering the encoder, read and reset by Go.
typedef struct {
	GMutex mu;
	double sumsq;
	guint64 count;
	double peak_rms;
} loco_level;

static GstPadProbeReturn loco_level_probe(GstPad *pad, GstPadProbeInfo *info, gpointer user) {
	loco_level *lv = (loco_level *)user;
	GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
	if (buf == NULL) return GST_PAD_PROBE_OK;
	GstMapInfo map;
	if (!gst_buffer_map(buf, &map, GST_MAP_READ)) return GST_PAD_PROBE_OK;
	const gint16 *s = (const gint16 *)map.data;
	gsize n = map.size / 2;
	double sum = 0;
	for (gsize i = 0; i < n; i++) { double v = s[i] / 32768.0; sum += v * v; }
	gst_buffer_unmap(buf, &map);
	g_mutex_lock(&lv->mu);
	lv->sumsq += sum;
	lv->count += n;
	g_mutex_unlock(&lv->mu);
	return GST_PAD_PROBE_OK;
}

static loco_level *loco_level_new(void) {
	loco_level *lv = g_new0(loco_level, 1);
	g_mutex_init(&lv->mu);
	return lv;
}

static void loco_level_free(gpointer p) {
	loco_level *lv = (loco_level *)p;
	g_mutex_clear(&lv->mu);
	g_free(lv);
}

static gulong loco_level_attach(GstElement *el, loco_level *lv) {
	GstPad *pad = gst_element_get_static_pad(el, "sink");
	if (pad == NULL) return 0;
	gulong id = gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, loco_level_probe, lv, NULL);
	gst_object_unref(pad);
	return id;
}

static void loco_level_detach(GstElement *el, gulong id) {
	GstPad *pad = gst_element_get_static_pad(el, "sink");
	if (pad == NULL) return;
	gst_pad_remove_probe(pad, id);
	gst_object_unref(pad);
}

// loco_level_take returns the mean square since the last call (-1 when no samples) and resets.
static double loco_level_take(loco_level *lv) {
	g_mutex_lock(&lv->mu);
	double r = lv->count ? lv->sumsq / (double)lv->count : -1;
	lv->sumsq = 0;
	lv->count = 0;
	g_mutex_unlock(&lv->mu);
	return r;
}
*/
import "C"

import (
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/go-gst/go-gst/gst"
)

// gstVersion returns the runtime GStreamer version ("1.22.0").
func gstVersion() string {
	var major, minor, micro, nano C.guint
	C.gst_version(&major, &minor, &micro, &nano)
	return fmt.Sprintf("%d.%d.%d", major, minor, micro)
}

// elemPtr returns the C pointer of a go-gst element.
func elemPtr(e *gst.Element) *C.GstElement { return (*C.GstElement)(unsafe.Pointer(e.Unsafe())) }

// push copies h rows of rowBytes from pix (stride apart) into a new buffer and pushes it into src.
func push(src *gst.Element, pix []byte, stride, rowBytes, h int, pts, dur time.Duration) error {
	if len(pix) < stride*(h-1)+rowBytes {
		return fmt.Errorf("%w: %d bytes for %d rows of %d", ErrFrameSize, len(pix), h, rowBytes)
	}
	ret := C.loco_push(elemPtr(src), (*C.guint8)(unsafe.Pointer(&pix[0])), C.gsize(stride), C.gsize(rowBytes),
		C.gsize(h), C.GstClockTime(pts), C.GstClockTime(dur))
	if ret != C.GST_FLOW_OK {
		return fmt.Errorf("%w: %s", ErrPush, gst.FlowReturn(ret).String())
	}
	return nil
}

func setVideoCaps(src *gst.Element, w, h, fps int) {
	C.loco_set_video_caps(elemPtr(src), C.int(w), C.int(h), C.int(fps))
}

func forceKeyUnit(sink *gst.Element) bool { return C.loco_force_key_unit(elemPtr(sink)) != 0 }

// pulled is one sample pulled from an appsink.
type pulled struct{ p C.loco_pulled }

// data returns the mapped bytes, valid until release.
func (s *pulled) data() []byte {
	n := int(C.loco_size(&s.p))
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(C.loco_data(&s.p))), n)
}

// tryPull waits up to timeout for the next sample.
func (s *pulled) tryPull(sink *gst.Element, timeout time.Duration) (ok bool) {
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left < 0 {
			left = 0
		}
		switch C.loco_try_pull(elemPtr(sink), &s.p, C.GstClockTime(left)) {
		case 0:
			return false
		case 1:
			return true
		}
	}
}

func pushBytes(src *gst.Element, data []byte, pts time.Duration) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: empty buffer", ErrPush)
	}
	ret := C.loco_push_bytes(elemPtr(src), (*C.guint8)(unsafe.Pointer(&data[0])), C.gsize(len(data)),
		C.GstClockTime(pts))
	if ret != C.GST_FLOW_OK {
		return fmt.Errorf("%w: %s", ErrPush, gst.FlowReturn(ret).String())
	}
	return nil
}

func (s *pulled) size() (int, int)        { return int(s.p.width), int(s.p.height) }
func (s *pulled) pts() time.Duration      { return time.Duration(s.p.pts) }
func (s *pulled) duration() time.Duration { return clockDuration(s.p.dur) }
func (s *pulled) keyframe() bool          { return s.p.delta == 0 }
func (s *pulled) release()                { C.loco_release(&s.p) }

func clockDuration(t C.GstClockTime) time.Duration {
	if t == C.GST_CLOCK_TIME_NONE {
		return 0
	}
	return time.Duration(t)
}

// timingProbe measures how long frames take from entry's sink pad to exit's src pad. It is never freed: the
// probes live as long as the pipeline, and the few bytes are leaked with it.
type timingProbe struct{ t *C.loco_timing }

func attachTiming(entry, exit *gst.Element) timingProbe {
	return timingProbe{t: C.loco_timing_attach(elemPtr(entry), elemPtr(exit))}
}

// lookup returns how long the frame with output PTS pts took.
func (p timingProbe) lookup(pts time.Duration) (time.Duration, bool) {
	us := int64(C.loco_timing_lookup(p.t, C.GstClockTime(pts)))
	if us < 0 {
		return 0, false
	}
	return time.Duration(us) * time.Microsecond, true
}

// levelMeter measures the RMS of S16 samples entering an element.
type levelMeter struct {
	lv    *C.loco_level
	el    *gst.Element
	probe C.gulong
}

func attachLevel(el *gst.Element) *levelMeter {
	lv := C.loco_level_new()
	return &levelMeter{lv: lv, el: el, probe: C.loco_level_attach(elemPtr(el), lv)}
}

// take returns the RMS level in dBFS since the previous call, and false when no samples arrived.
func (m *levelMeter) take() (float64, bool) {
	ms := float64(C.loco_level_take(m.lv))
	if ms < 0 {
		return 0, false
	}
	return msToDBFS(ms), true
}

// detach removes the probe; call after the pipeline stopped.
func (m *levelMeter) free() {
	if m.probe != 0 {
		C.loco_level_detach(elemPtr(m.el), m.probe)
	}
	C.loco_level_free(C.gpointer(unsafe.Pointer(m.lv)))
}

// msToDBFS converts a mean square (full scale 1.0) to dBFS, floored at -100.
func msToDBFS(ms float64) float64 {
	if ms <= 1e-10 {
		return -100
	}
	// A full-scale sine has RMS 1/sqrt(2), i.e. -3 dBFS on this scale.
	return math.Max(-100, 10*math.Log10(ms))
}
