package encode

import (
	"fmt"

	"github.com/go-gst/go-gst/gst"
)

// appPipeline is a pipeline with named elements looked up once.
type appPipeline struct {
	pipeline *gst.Pipeline
	elems    map[string]*gst.Element
}

// newAppPipeline parses desc and looks up the named elements. It does not start the pipeline.
func newAppPipeline(desc string, names ...string) (*appPipeline, error) {
	Init()
	p, err := gst.NewPipelineFromString(desc)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrPipeline, desc, err)
	}
	a := &appPipeline{pipeline: p, elems: map[string]*gst.Element{}}
	for _, n := range names {
		e, err := p.GetElementByName(n)
		if err != nil {
			return nil, fmt.Errorf("%w: element %q: %w", ErrPipeline, n, err)
		}
		a.elems[n] = e
	}
	return a, nil
}

// play starts the pipeline.
func (a *appPipeline) play(what string) error {
	if err := a.pipeline.SetState(gst.StatePlaying); err != nil {
		return fmt.Errorf("%w: start %s: %w", ErrPipeline, what, err)
	}
	return nil
}

// stop stops the pipeline.
func (a *appPipeline) stop(what string) error {
	if err := a.pipeline.SetState(gst.StateNull); err != nil {
		return fmt.Errorf("%w: stop %s: %w", ErrPipeline, what, err)
	}
	return nil
}
