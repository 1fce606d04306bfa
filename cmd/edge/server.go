package main

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
	ckptinputs "github.com/ckptpack/ckptpack/pkg/inputs"
)

// Memory budget (a Worker isolate has 128 MB for Go's linear memory and the
// JS heap together). In Go: the engine's copy buffer (headers, inline data,
// transposes) and one read-ahead block per distinct input object (header
// reads). In JS: the pending multipart part and the staging window
// (multipartsink.go), through which all tensor copies go.
const (
	copyBufferSize = 8 << 20
	readAheadSize  = 2 << 20
	maxRequestBody = 32 << 20 // prompt and workflow JSON can be large, never GBs
)

// server is the edge host's HTTP API. It holds no format logic: it turns
// requests into checkpoint.SaveRequests over R2 objects and R2 objects into
// engine inputs and outputs.
type server struct {
	jobs  *jobs // nil: the Worker has no job bindings
	store objectStore
	token string           // the bearer token; empty refuses every request
	now   func() time.Time // for ResolvePrefix's %year% … substitution
}

func newServer(store objectStore, token string) *server {
	return &server{store: store, token: token, now: time.Now}
}

// withJobs enables /v1/jobs over backend.
func (s *server) withJobs(backend jobBackend) *server {
	s.jobs = &jobs{store: s.store, backend: backend, now: s.now}
	return s
}

// apiError is an error answer: {"error": message, "key": object key}.
type apiError struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
	Key     string `json:"key,omitempty"`
}

func (e *apiError) Error() string { return e.Message }

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	calls := &storeCalls{}
	store := countingStore{s.store, calls}
	var (
		status = http.StatusOK
		body   any
		err    error
	)
	switch {
	case !s.authorized(w, r):
		return
	case r.URL.Path == "/v1/checkpoints":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			err = &apiError{Status: http.StatusMethodNotAllowed, Message: "use POST " + r.URL.Path}
			break
		}
		status = http.StatusCreated
		body, err = s.assemble(r.Context(), store, r)
	case r.URL.Path == "/v1/jobs" || strings.HasPrefix(r.URL.Path, "/v1/jobs/"):
		status, body, err = s.serveJobs(store, w, r)
	case r.URL.Path == "/v1/inspect":
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			err = &apiError{Status: http.StatusMethodNotAllowed, Message: "use GET " + r.URL.Path}
			break
		}
		body, err = s.inspect(store, r.URL.Query().Get("key"))
	default:
		err = &apiError{Status: http.StatusNotFound, Message: "no such endpoint: " + r.URL.Path}
	}
	setStatsHeaders(w.Header(), calls)
	if err != nil {
		writeError(w, classify(err, calls))
		return
	}
	writeJSON(w, status, body)
}

// serveJobs answers POST /v1/jobs, GET and DELETE /v1/jobs/{id}.
func (s *server) serveJobs(store objectStore, w http.ResponseWriter, r *http.Request) (int, any, error) {
	if s.jobs == nil {
		return 0, nil, &apiError{Status: http.StatusNotImplemented, Message: "this Worker has no JOBS, COUNTERS and PARTS bindings (see cmd/edge/wrangler.toml), so it cannot run jobs"}
	}
	if r.URL.Path == "/v1/jobs" {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			return 0, nil, &apiError{Status: http.StatusMethodNotAllowed, Message: "use POST " + r.URL.Path}
		}
		a, err := s.jobs.create(store, r)
		return http.StatusAccepted, a, err
	}
	id, err := jobID(r.URL.Path)
	if err != nil {
		return 0, nil, err
	}
	switch r.Method {
	case http.MethodGet:
		a, err := s.jobs.status(id)
		return http.StatusOK, a, err
	case http.MethodDelete:
		a, err := s.jobs.cancel(store, id)
		return http.StatusOK, a, err
	}
	w.Header().Set("Allow", "GET, DELETE")
	return 0, nil, &apiError{Status: http.StatusMethodNotAllowed, Message: "use GET or DELETE " + r.URL.Path}
}

// authorized checks "Authorization: Bearer <token>" in constant time and
// answers 401 itself when it fails.
func (s *server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.token == "" {
		writeError(w, &apiError{Status: http.StatusServiceUnavailable, Message: "the worker has no CKPTPACK_TOKEN secret; set it with wrangler secret put CKPTPACK_TOKEN"})
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok && subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) == 1 {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="ckptpack"`)
	writeError(w, &apiError{Status: http.StatusUnauthorized, Message: "missing or wrong bearer token"})
	return false
}

// checkpointRequest is the body of POST /v1/checkpoints, mirroring
// CheckpointSave's inputs with R2 keys in place of loaded models.
type checkpointRequest struct {
	Model           string            `json:"model"`
	Clip            []string          `json:"clip"`
	VAE             string            `json:"vae"`
	FilenamePrefix  string            `json:"filename_prefix"`
	Prompt          json.RawMessage   `json:"prompt"`
	Workflow        json.RawMessage   `json:"workflow"`
	Metadata        map[string]string `json:"metadata"`
	Prediction      string            `json:"prediction"`
	DisableMetadata bool              `json:"disable_metadata"`
	// ModelSpec fields (title, author, thumbnail as a data URL …) and
	// modelspec.hash_sha256, patched into the header after the data.
	ModelSpec checkpoint.ModelSpec `json:"modelspec"`
	Hash      bool                 `json:"hash"`
}

// checkpointResponse describes the object written.
type checkpointResponse struct {
	Key          string `json:"key"`
	Bytes        int64  `json:"bytes"`
	SHA256       string `json:"sha256,omitempty"` // not with "hash": part 1 is uploaded last
	Architecture string `json:"architecture"`
	HashSHA256   string `json:"hash_sha256,omitempty"` // modelspec.hash_sha256 written
}

func badRequest(format string, args ...any) error {
	return &apiError{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

func decodeCheckpointRequest(r io.Reader) (*checkpointRequest, error) {
	dec := json.NewDecoder(io.LimitReader(r, maxRequestBody))
	dec.DisallowUnknownFields()
	var req checkpointRequest
	if err := dec.Decode(&req); err != nil {
		return nil, badRequest("request body: %v", err)
	}
	if dec.More() {
		return nil, badRequest("request body: more than one JSON value")
	}
	if err := req.validate(); err != nil {
		return nil, err
	}
	return &req, nil
}

// validate checks the fields and fills in the default filename_prefix.
func (req *checkpointRequest) validate() error {
	switch {
	case req.Model == "":
		return badRequest(`request body: "model" (an object key) is required`)
	case len(req.Clip) == 0:
		return badRequest(`request body: "clip" (a list of object keys) is required`)
	case req.VAE == "":
		return badRequest(`request body: "vae" (an object key) is required`)
	}
	for i, k := range req.Clip {
		if k == "" {
			return badRequest(`request body: "clip"[%d] is empty`, i)
		}
	}
	switch checkpoint.Prediction(req.Prediction) {
	case "", checkpoint.PredictionAuto, checkpoint.PredictionEps, checkpoint.PredictionV:
	default:
		return badRequest(`request body: "prediction" must be "auto", "eps" or "v", not %q`, req.Prediction)
	}
	if req.FilenamePrefix == "" {
		req.FilenamePrefix = checkpoint.DefaultFilenamePrefix
	}
	return nil
}

// isJSONNull reports whether raw is absent or the JSON null.
func isJSONNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// openInputs heads every distinct key once and returns one reader per key,
// so a full checkpoint used for several slots is one object with one
// read-ahead block, and the etag that head saw (jobs keep it to notice an
// input rewritten mid-job).
func openInputs(store objectStore, keys []string) (inputs map[string]checkpoint.Input, etags map[string]string, err error) {
	inputs = make(map[string]checkpoint.Input, len(keys))
	etags = make(map[string]string, len(keys))
	for _, key := range keys {
		if _, ok := inputs[key]; ok {
			continue
		}
		info, err := store.Head(key)
		if errors.Is(err, errObjectNotFound) {
			return nil, nil, &apiError{Status: http.StatusNotFound, Message: fmt.Sprintf("no object %q in the bucket", key), Key: key}
		}
		if err != nil {
			return nil, nil, err
		}
		size := info.Size
		// A torch checkpoint becomes its virtual safetensors file; the
		// executor still copies ranges of the object itself.
		in, err := ckptinputs.Wrap(checkpoint.Input{Name: key, R: newObjectReader(store, key, size, readAheadSize), Size: size})
		if err != nil {
			return nil, nil, err
		}
		inputs[key] = in
		etags[key] = info.ETag
	}
	return inputs, etags, nil
}

func (s *server) assemble(ctx context.Context, store objectStore, r *http.Request) (*checkpointResponse, error) {
	req, err := decodeCheckpointRequest(r.Body)
	if err != nil {
		return nil, err
	}
	t, err := req.openTarget(store, s.now())
	if err != nil {
		return nil, err
	}
	key := t.next.Path()

	save, err := req.saveRequest(t.inputs, t.next.Title)
	if err != nil {
		return nil, err
	}
	plan, err := checkpoint.PlanCheckpoint(save)
	if err != nil {
		return nil, err
	}
	partSize := partSizeFor(plan.Size)
	if err := headerFitsPart(key, plan, partSize); err != nil {
		return nil, err
	}
	sink, err := newMultipartSink(store, key, partSize)
	if err != nil {
		return nil, err
	}
	if plan.HashSlot != 0 {
		sink.holdFirstPart()
	}
	var dataHash string
	// Execute aborts the sink itself on any failure.
	if err := checkpoint.Execute(ctx, plan, sink, checkpoint.ExecuteOptions{BufferSize: copyBufferSize, OnDataHash: func(h string) { dataHash = h }}); err != nil {
		return nil, err
	}
	if sink.Bytes() != plan.Size {
		return nil, fmt.Errorf("%s: wrote %d bytes, plan says %d", key, sink.Bytes(), plan.Size)
	}
	resp := &checkpointResponse{Key: key, Bytes: sink.Bytes(), Architecture: plan.Architecture, HashSHA256: dataHash}
	if plan.HashSlot == 0 {
		sum, err := sink.SHA256()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		resp.SHA256 = hex.EncodeToString(sum)
	}
	return resp, nil
}

// outputTarget is what a request for a checkpoint resolves to before it is
// planned: its opened inputs, and where ComfyUI's naming rules put the
// output given the objects already under the prefix.
type outputTarget struct {
	inputs              map[string]checkpoint.Input
	etags               map[string]string // of the inputs, as opened
	subfolder, filename string
	next                checkpoint.OutputName
}

// inputKeys are the objects req reads: model, VAE, then the text encoders.
func (req *checkpointRequest) inputKeys() []string {
	return append([]string{req.Model, req.VAE}, req.Clip...)
}

// openTarget opens req's inputs and names its output (POST /v1/checkpoints
// and POST /v1/jobs alike).
func (req *checkpointRequest) openTarget(store objectStore, now time.Time) (*outputTarget, error) {
	inputs, etags, err := openInputs(store, req.inputKeys())
	if err != nil {
		return nil, err
	}
	subfolder, filename, err := checkpoint.ResolvePrefix(req.FilenamePrefix, now)
	if err != nil {
		return nil, &apiError{Status: http.StatusBadRequest, Message: fmt.Sprintf("filename_prefix %q: %v", req.FilenamePrefix, err)}
	}
	entries, err := folderEntries(store, subfolder, filename)
	if err != nil {
		return nil, err
	}
	return &outputTarget{inputs: inputs, etags: etags, subfolder: subfolder, filename: filename, next: checkpoint.NextOutputName(subfolder, filename, entries)}, nil
}

// headerFitsPart refuses a hashed plan whose header does not fit in the
// first upload part, the part that is patched with modelspec.hash_sha256.
func headerFitsPart(key string, plan *checkpoint.Plan, partSize int) error {
	if plan.HashSlot != 0 && int64(len(plan.Header)) > int64(partSize) {
		return &apiError{Status: http.StatusUnprocessableEntity, Message: fmt.Sprintf("%s: a %d-byte header is larger than one upload part (%d bytes), so modelspec.hash_sha256 cannot be patched into it; shorten the metadata or leave out \"hash\"", key, len(plan.Header), partSize)}
	}
	return nil
}

// saveRequest is the engine's request for req over the opened inputs, with
// the title of the output's counter.
func (req *checkpointRequest) saveRequest(inputs map[string]checkpoint.Input, title string) (checkpoint.SaveRequest, error) {
	save := checkpoint.SaveRequest{
		Model:           inputs[req.Model],
		VAE:             inputs[req.VAE],
		Prediction:      checkpoint.Prediction(req.Prediction),
		Title:           title,
		DisableMetadata: req.DisableMetadata,
		Metadata:        req.Metadata,
		ModelSpec:       req.ModelSpec,
		HashSHA256:      req.Hash,
	}
	if save.Prediction == "" {
		save.Prediction = checkpoint.PredictionAuto
	}
	for _, k := range req.Clip {
		save.Clip = append(save.Clip, inputs[k])
	}
	if !isJSONNull(req.Prompt) {
		save.Prompt = string(req.Prompt)
	}
	if !isJSONNull(req.Workflow) {
		// The web UI sends extra_pnginfo = {"workflow": …}; CheckpointSave
		// writes each of its keys as a metadata entry.
		extra, err := json.Marshal(map[string]json.RawMessage{"workflow": req.Workflow})
		if err != nil {
			return save, badRequest("request body: workflow: %v", err)
		}
		save.ExtraPNGInfo = string(extra)
	}

	return save, nil
}

// folderEntries lists the names in subfolder ("" for the bucket's root)
// that ComfyUI's counter rule reads. Only entries whose names begin with
// filename can match the rule ("<filename>_<digits>_…", compared
// case-sensitively as on the Linux servers ComfyUI runs on), so the listing
// is narrowed to that prefix.
func folderEntries(store objectStore, subfolder, filename string) ([]string, error) {
	folder := ""
	if subfolder != "" {
		folder = subfolder + "/"
	}
	keys, folders, err := store.List(folder + filename)
	if err != nil {
		return nil, err
	}
	entries := make([]string, 0, len(keys)+len(folders))
	for _, k := range keys {
		entries = append(entries, strings.TrimPrefix(k, folder))
	}
	for _, f := range folders {
		entries = append(entries, path.Base(strings.TrimSuffix(f, "/")))
	}
	return entries, nil
}

func (s *server) inspect(store objectStore, key string) (*checkpoint.Report, error) {
	if key == "" {
		return nil, badRequest(`query parameter "key" (an object key) is required`)
	}
	inputs, _, err := openInputs(store, []string{key})
	if err != nil {
		return nil, err
	}
	return checkpoint.Inspect(inputs[key])
}

// classify turns an error into its answer: API errors as they are, bucket
// failures as 502 (the request was fine, R2 was not), a lost race for the
// output key as 409, and everything the
// engine refuses (wrong component, incompatible architectures, a file that
// is not safetensors) as 422 with the engine's message, which names the
// object.
func classify(err error, calls *storeCalls) *apiError {
	var api *apiError
	if errors.As(err, &api) {
		return api
	}
	if errors.Is(err, errKeyTaken) {
		return &apiError{Status: http.StatusConflict, Message: err.Error()}
	}
	var se *storeError
	if errors.As(err, &se) || calls.First != nil {
		return &apiError{Status: http.StatusBadGateway, Message: err.Error()}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &apiError{Status: http.StatusServiceUnavailable, Message: err.Error()}
	}
	return &apiError{Status: http.StatusUnprocessableEntity, Message: err.Error()}
}

// setStatsHeaders reports the request's R2 calls and Go's memory. In
// js/wasm Go's Sys never shrinks (linear memory cannot be returned), so Sys
// at the end of a request is its peak; local workerd does not enforce the
// isolate's 128 MB, so the tests assert on this number.
func setStatsHeaders(h http.Header, calls *storeCalls) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.Set("Ckptpack-Go-Sys", strconv.FormatUint(ms.Sys, 10))
	h.Set("Ckptpack-R2-Calls", fmt.Sprintf("get=%d part=%d list=%d head=%d", calls.Gets, calls.Parts, calls.Lists, calls.Heads))
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(body) // the client went away; nothing left to tell it
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, e)
}
