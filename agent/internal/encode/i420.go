package encode

/*
#cgo pkg-config: gstreamer-1.0 gstreamer-app-1.0 gstreamer-video-1.0
#include <stdlib.h>
#include <string.h>
#include <gst/gst.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>

#define LOCO_I420_BUFS 4

// loco_i420 keeps one I420 picture (GStreamer's default I420 layout for its size) up to date from BGRx pictures, a
// band of rows at a time, with GStreamer's own converter configured as videoconvert configures it, so the pixels are
// the ones videoconvert would make. What is pushed into appsrc are a few buffers of that layout, reused once the
// pipeline lets go of them, each brought up to date by copying the rows of the picture that changed since it was
// last pushed.
typedef struct {
	GstVideoInfo bgrx;        // the whole picture, as appsrc caps would describe it
	GstVideoInfo i420;
	guint8 *pix;              // i420.size bytes
	int rows;                 // rows per converter call: the band, or the height when it is smaller
	GstVideoConverter *conv;
	GstVideoInfo in, out;     // what conv converts: rows rows of the whole picture
	GstBuffer *bufs[LOCO_I420_BUFS];
	int nbufs;
	GstMapInfo map;           // of the buffer being brought up to date
	GstBuffer *mapped;
} loco_i420;

static GstVideoConverter *loco_i420_converter(GstVideoInfo *in, GstVideoInfo *out) {
	// videoconvert's defaults (GStreamer 1.22), so the result is what videoconvert makes of the same picture.
	GstStructure *opts = gst_structure_new("GstVideoConvertConfig",
		GST_VIDEO_CONVERTER_OPT_DITHER_METHOD, GST_TYPE_VIDEO_DITHER_METHOD, GST_VIDEO_DITHER_BAYER,
		GST_VIDEO_CONVERTER_OPT_DITHER_QUANTIZATION, G_TYPE_UINT, 1,
		GST_VIDEO_CONVERTER_OPT_CHROMA_RESAMPLER_METHOD, GST_TYPE_VIDEO_RESAMPLER_METHOD,
		GST_VIDEO_RESAMPLER_METHOD_LINEAR,
		GST_VIDEO_CONVERTER_OPT_ALPHA_MODE, GST_TYPE_VIDEO_ALPHA_MODE, GST_VIDEO_ALPHA_MODE_COPY,
		GST_VIDEO_CONVERTER_OPT_ALPHA_VALUE, G_TYPE_DOUBLE, 1.0,
		GST_VIDEO_CONVERTER_OPT_CHROMA_MODE, GST_TYPE_VIDEO_CHROMA_MODE, GST_VIDEO_CHROMA_MODE_FULL,
		GST_VIDEO_CONVERTER_OPT_MATRIX_MODE, GST_TYPE_VIDEO_MATRIX_MODE, GST_VIDEO_MATRIX_MODE_FULL,
		GST_VIDEO_CONVERTER_OPT_GAMMA_MODE, GST_TYPE_VIDEO_GAMMA_MODE, GST_VIDEO_GAMMA_MODE_NONE,
		GST_VIDEO_CONVERTER_OPT_PRIMARIES_MODE, GST_TYPE_VIDEO_PRIMARIES_MODE, GST_VIDEO_PRIMARIES_MODE_NONE,
		GST_VIDEO_CONVERTER_OPT_THREADS, G_TYPE_UINT, 1,
		NULL);
	return gst_video_converter_new(in, out, opts);
}

// loco_i420_band_info describes `rows` rows of the whole picture `whole`: its size with the whole picture's
// colorimetry and chroma siting (the defaults depend on the height) and strides.
static void loco_i420_band_info(GstVideoInfo *band, const GstVideoInfo *whole, int rows) {
	gst_video_info_set_format(band, GST_VIDEO_INFO_FORMAT(whole), GST_VIDEO_INFO_WIDTH(whole), rows);
	band->colorimetry = whole->colorimetry;
	band->chroma_site = whole->chroma_site;
	band->interlace_mode = whole->interlace_mode;
	band->par_n = whole->par_n;
	band->par_d = whole->par_d;
	band->fps_n = whole->fps_n;
	band->fps_d = whole->fps_d;
	for (guint i = 0; i < GST_VIDEO_MAX_PLANES; i++) band->stride[i] = whole->stride[i];
}

static GstCaps *loco_raw_caps(const char *format, int w, int h, int fps) {
	return gst_caps_new_simple("video/x-raw",
		"format", G_TYPE_STRING, format,
		"width", G_TYPE_INT, w,
		"height", G_TYPE_INT, h,
		"framerate", GST_TYPE_FRACTION, fps, 1,
		"pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1,
		NULL);
}

static void loco_i420_free(loco_i420 *c) {
	if (c == NULL) return;
	if (c->conv != NULL) gst_video_converter_free(c->conv);
	if (c->mapped != NULL) gst_buffer_unmap(c->mapped, &c->map);
	for (int i = 0; i < c->nbufs; i++) gst_buffer_unref(c->bufs[i]); // one still downstream lives on there
	g_free(c->pix);
	g_free(c);
}

// loco_i420_new prepares a w x h (even) picture, converted `band` (even) rows at a time; NULL on failure.
static loco_i420 *loco_i420_new(int w, int h, int fps, int band) {
	loco_i420 *c = g_new0(loco_i420, 1);
	GstCaps *in = loco_raw_caps("BGRx", w, h, fps);
	GstCaps *out = loco_raw_caps("I420", w, h, fps);
	gboolean ok = gst_video_info_from_caps(&c->bgrx, in) && gst_video_info_from_caps(&c->i420, out);
	gst_caps_unref(in);
	gst_caps_unref(out);
	if (!ok) { loco_i420_free(c); return NULL; }
	c->pix = g_malloc0(c->i420.size);
	c->rows = MIN(band, h);
	loco_i420_band_info(&c->in, &c->bgrx, c->rows);
	loco_i420_band_info(&c->out, &c->i420, c->rows);
	c->conv = loco_i420_converter(&c->in, &c->out);
	if (c->conv == NULL) { loco_i420_free(c); return NULL; }
	return c;
}

// loco_i420_convert converts rows y to y+rows-1 (y even, y+rows <= height) from BGRx pixels whose row 0 is at pix,
// stride bytes apart.
//
// The converter caches intermediate lines by line number and keeps the last few of a call for the next one: a call
// that starts at line 0 drops them as long as they are not lines 0 and up, which holds when the band is much longer
// than the few lines kept. A picture lower than 16 rows is converted by a fresh converter each time.
static void loco_i420_convert(loco_i420 *c, const guint8 *pix, gsize stride, int y) {
	if (c->rows < 16) {
		GstVideoConverter *fresh = loco_i420_converter(&c->in, &c->out);
		if (fresh == NULL) return;
		gst_video_converter_free(c->conv);
		c->conv = fresh;
	}
	GstVideoFrame src, dst;
	memset(&src, 0, sizeof src);
	memset(&dst, 0, sizeof dst);
	src.info = c->in;
	src.info.stride[0] = (gint)stride;
	src.data[0] = (gpointer)(pix + (gsize)y * stride);
	dst.info = c->out;
	for (guint p = 0; p < 3; p++) {
		int py = p == 0 ? y : y / 2;
		dst.data[p] = c->pix + c->i420.offset[p] + (gsize)py * c->i420.stride[p];
	}
	gst_video_converter_frame(c->conv, &src, &dst);
}

static int loco_i420_rows(loco_i420 *c) { return c->rows; }

// loco_i420_begin picks a buffer nobody else holds (the pipeline has let go of it), adding one when all are in use,
// and maps it for writing. It returns the buffer's index, or -1 when all LOCO_I420_BUFS are in use or mapping
// failed.
static int loco_i420_begin(loco_i420 *c) {
	int i = 0;
	while (i < c->nbufs && GST_MINI_OBJECT_REFCOUNT_VALUE(c->bufs[i]) != 1) i++;
	if (i == c->nbufs) {
		if (c->nbufs == LOCO_I420_BUFS) return -1;
		c->bufs[c->nbufs++] = gst_buffer_new_allocate(NULL, c->i420.size, NULL);
	}
	if (!gst_buffer_map(c->bufs[i], &c->map, GST_MAP_WRITE)) return -1;
	c->mapped = c->bufs[i];
	return i;
}

// loco_i420_copy copies rows y0 to y1-1 (y0 even) of the picture into the mapped buffer.
static void loco_i420_copy(loco_i420 *c, int y0, int y1) {
	for (guint p = 0; p < 3; p++) {
		int a = p == 0 ? y0 : y0 / 2, b = p == 0 ? y1 : (y1 + 1) / 2;
		gsize off = c->i420.offset[p] + (gsize)a * c->i420.stride[p];
		memcpy(c->map.data + off, c->pix + off, (gsize)(b - a) * c->i420.stride[p]);
	}
}

// loco_i420_push unmaps the buffer being brought up to date and pushes it into appsrc, keeping a reference: while
// the pipeline holds the buffer it is not writable there, so nothing downstream changes it (an element that wants
// to, basesrc marking a discontinuity, makes a copy).
static GstFlowReturn loco_i420_push(loco_i420 *c, GstElement *src, GstClockTime pts, GstClockTime dur) {
	GstBuffer *buf = c->mapped;
	if (buf == NULL) return GST_FLOW_ERROR;
	gst_buffer_unmap(buf, &c->map);
	c->mapped = NULL;
	GST_BUFFER_PTS(buf) = pts;
	GST_BUFFER_DTS(buf) = pts;
	GST_BUFFER_DURATION(buf) = dur;
	return gst_app_src_push_buffer(GST_APP_SRC(src), gst_buffer_ref(buf));
}

// loco_i420_push_copy pushes a new copy of the whole picture (when every reusable buffer is in use).
static GstFlowReturn loco_i420_push_copy(loco_i420 *c, GstElement *src, GstClockTime pts, GstClockTime dur) {
	GstBuffer *buf = gst_buffer_new_allocate(NULL, c->i420.size, NULL);
	if (buf == NULL) return GST_FLOW_ERROR;
	gst_buffer_fill(buf, 0, c->pix, c->i420.size);
	GST_BUFFER_PTS(buf) = pts;
	GST_BUFFER_DTS(buf) = pts;
	GST_BUFFER_DURATION(buf) = dur;
	return gst_app_src_push_buffer(GST_APP_SRC(src), buf);
}

static guint8 *loco_i420_pix(loco_i420 *c) { return c->pix; }
static gsize loco_i420_size(loco_i420 *c) { return c->i420.size; }

// loco_set_i420_caps sets I420 caps of the given size on appsrc.
static void loco_set_i420_caps(GstElement *src, int w, int h, int fps) {
	GstCaps *caps = loco_raw_caps("I420", w, h, fps);
	gst_app_src_set_caps(GST_APP_SRC(src), caps);
	gst_caps_unref(caps);
}
*/
import "C"

import (
	"fmt"
	"time"
	"unsafe"

	"github.com/go-gst/go-gst/gst"

	"github.com/loco-cluster/loco/agent/internal/capture"
)

// i420Band is how many rows the converter converts at a time: the granularity of damage-driven conversion. It is
// even, so a band's chroma rows are its own, and well above the few lines GStreamer's converter caches from one
// call to the next (see loco_i420_convert).
const i420Band = 16

// i420Bufs is how many buffers an i420 reuses (LOCO_I420_BUFS): appsrc holds one, the encoder one or two.
const i420Bufs = C.LOCO_I420_BUFS

// i420 is the encoder's input picture in I420, kept up to date from framebuffer frames by converting only the bands
// of rows that changed (GStreamer's converter with videoconvert's settings, so the pixels are videoconvert's), and
// the buffers pushed into appsrc, each updated by copying only the rows changed since it was last pushed.
// Not safe for concurrent use.
type i420 struct {
	c      *C.loco_i420
	width  int
	height int
	// stale[i] are the rows of buffer i that may differ from the picture (all of them before its first use).
	stale [i420Bufs]capture.RowSet
}

// newI420 prepares a width x height picture (both even and positive).
func newI420(width, height, fps int) (*i420, error) {
	c := C.loco_i420_new(C.int(width), C.int(height), C.int(fps), C.int(i420Band))
	if c == nil {
		return nil, fmt.Errorf("%w: I420 converter for %dx%d", ErrPipeline, width, height)
	}
	p := &i420{c: c, width: width, height: height}
	for i := range p.stale {
		p.stale[i].Reset(height)
		p.stale[i].Add(0, height)
	}
	return p, nil
}

// free releases the picture, its converter and its buffers; a buffer still in the pipeline stays valid there.
func (p *i420) free() {
	if p != nil && p.c != nil {
		C.loco_i420_free(p.c)
		p.c = nil
	}
}

// convert brings the picture up to date with the BGRX pixels pix (stride bytes per row, at least width x height):
// every band when changed is nil, else only the bands in which changed reports a row.
func (p *i420) convert(pix []byte, stride int, changed *capture.RowSet) error {
	if stride < p.width*capture.BytesPerPixel || len(pix) < stride*(p.height-1)+p.width*capture.BytesPerPixel {
		return fmt.Errorf("%w: %d bytes, stride %d, for %dx%d", ErrFrameSize, len(pix), stride, p.width, p.height)
	}
	base := (*C.guint8)(unsafe.Pointer(&pix[0]))
	band := int(C.loco_i420_rows(p.c))
	for y := 0; y < p.height; y += band {
		if changed != nil && !changed.Any(y, min(y+band, p.height)) {
			continue
		}
		// The last band ends at the last row, overlapping the one before when the band does not divide the height
		// (a converter for fewer rows would keep all its lines cached from one call to the next).
		y0 := min(y, p.height-band)
		C.loco_i420_convert(p.c, base, C.gsize(stride), C.int(y0))
		for i := range p.stale {
			p.stale[i].Add(y0, y0+band)
		}
	}
	return nil
}

// bytes returns the picture (GStreamer's I420 layout for its size); valid until free.
func (p *i420) bytes() []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(C.loco_i420_pix(p.c))), int(C.loco_i420_size(p.c)))
}

// push pushes the picture into appsrc: a reused buffer with its stale rows copied, or a new copy when the pipeline
// holds every reusable buffer.
func (p *i420) push(src *gst.Element, pts, dur time.Duration) error {
	var ret C.GstFlowReturn
	if i := int(C.loco_i420_begin(p.c)); i >= 0 {
		stale := &p.stale[i]
		for y0, y1 := stale.NextRun(0); y0 < y1; y0, y1 = stale.NextRun(y1) {
			C.loco_i420_copy(p.c, C.int(y0&^1), C.int(y1))
		}
		stale.Clear()
		ret = C.loco_i420_push(p.c, elemPtr(src), C.GstClockTime(pts), C.GstClockTime(dur))
	} else {
		ret = C.loco_i420_push_copy(p.c, elemPtr(src), C.GstClockTime(pts), C.GstClockTime(dur))
	}
	if ret != C.GST_FLOW_OK {
		return fmt.Errorf("%w: %s", ErrPush, gst.FlowReturn(ret).String())
	}
	return nil
}

func setI420Caps(src *gst.Element, w, h, fps int) {
	C.loco_set_i420_caps(elemPtr(src), C.int(w), C.int(h), C.int(fps))
}
