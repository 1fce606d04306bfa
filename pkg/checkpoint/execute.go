package checkpoint

import (
	"context"
	"errors"

	"github.com/ckptpack/ckptpack/pkg/streamwriter"
)

// DefaultBufferSize is the one reusable copy buffer's size.
const DefaultBufferSize = 16 << 20

// Progress is reported while a plan executes.
type Progress struct {
	Done   int64  // bytes written, header included
	Total  int64  // Plan.Size
	Tensor string // output tensor being written
}

// ExecuteOptions tune Execute. Zero values mean defaults.
type ExecuteOptions struct {
	BufferSize int            // <= 0: DefaultBufferSize
	Buffer     []byte         // optional caller-owned buffer, reused across runs (overrides BufferSize)
	Progress   func(Progress) // called after each chunk; must be cheap
}

// Execute streams p into sink: the header, then every step, through one
// bounded buffer. On success it calls sink.Finish; on any error or when ctx
// is cancelled it calls sink.Abort so no partial output remains.
func Execute(ctx context.Context, p *Plan, sink streamwriter.Sink, opt ExecuteOptions) error {
	return errors.New("checkpoint: Execute not implemented yet")
}
