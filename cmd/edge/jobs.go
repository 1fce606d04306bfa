package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ckptpack/ckptpack/pkg/checkpoint"
)

// Assembly jobs: one checkpoint written by many invocations.
//
// POST /v1/jobs plans the output, reserves its counter, starts the multipart
// upload and records the job in its Durable Object (jobs.mjs); the work goes
// out as queue messages. A "parts" message makes a run of consecutive
// multipart parts: part n is bytes [(n-1)·partSize, n·partSize) of the
// planned output, produced from a checkpoint.Window of the plan, so any
// invocation can make any part. The "hash" messages form a lane that walks
// the output in order, one invocation's budget at a time, carrying the
// SHA-256 state (encoding.BinaryMarshaler) in the job's object. With "hash"
// the lane covers the data only and part 1 (the header, with
// modelspec.hash_sha256 patched in) is made last, by a "first" message. The
// invocation that records the last piece of work completes the upload.
//
// Every message can be delivered more than once (a retry after a failure, or
// after an invocation was killed): a part already recorded is skipped, a
// part uploaded again replaces the earlier upload (the object records the
// etag of the last one, and complete() lists exactly one etag per part),
// and a hash step is recorded only if the lane is still where the message
// started (compare-and-set on the offset).
//
// Each message is a task the invocation leases from the job's object
// before it works (jobs.mjs): the lease has an attempt number, every report
// carries it and renews the lease, and a report of an attempt that lost
// the lease changes nothing. The object's alarm re-queues a task whose
// lease expired before it was done — its invocation died without the queue
// redelivering, or died after claiming the completion — and a task leased
// more than jobMaxAttempts times fails the job, whose upload is aborted.

// jobBackend is the job's durable state and its queue: on Cloudflare a
// Durable Object per job (jobs.mjs) and a Queue (jobs_js.go).
type jobBackend interface {
	// ReserveCounter returns a counter for prefix ("<subfolder>/<filename>")
	// that no other job got: at least floor, and above every earlier one.
	ReserveCounter(prefix string, floor int) (int, error)
	Create(rec *jobRecord) error
	// View returns the job, or an error wrapping errJobNotFound.
	View(id string) (*jobView, error)
	// Lease starts an attempt at task for holder (the queue message's id)
	// with msg (its body, which the watchdog re-queues if the lease
	// expires). Not granted (Go false) when the task is done, the job is
	// over, or another message holds a live lease; Ended when this call
	// failed the job because the task has had jobMaxAttempts attempts.
	Lease(id, task, holder, msg string) (*jobLease, error)
	// Renew extends the lease; false when the attempt no longer holds it.
	Renew(id, task string, attempt int) (bool, error)
	// Release records the failure of an attempt.
	Release(id, task string, attempt int, msg string) error
	TaskDone(id, task string, attempt int) (bool, error)
	// PartDone records part n for the attempt holding task's lease (and
	// renews it); ok is false, and nothing is recorded, otherwise.
	PartDone(id string, n int, etag string, size int64, task string, attempt int) (st *jobState, ok bool, err error)
	// HashStep moves the hash lane from from to to with the hash state
	// there (and the final digest at the end); ok is false when the lane
	// is no longer at from (a duplicate message) or the attempt lost the
	// lease.
	HashStep(id string, from, to int64, state []byte, sum, task string, attempt int) (st *jobState, ok bool, err error)
	// Claim moves a job whose work is all done to "completing" and leases
	// its "complete" task to holder; the attempt, or 0 when this call did
	// not claim it.
	Claim(id, holder, msg string) (int, error)
	// Finish marks the job done for the attempt holding "complete".
	Finish(id string, attempt int) (bool, error)
	// Fail ends a running or completing job with msg; true when this call
	// ended it (the caller then aborts the upload).
	Fail(id, msg string) (bool, error)
	// Cancel ends a running job; true when this call ended it.
	Cancel(id string) (*jobState, bool, error)
	Send(msgs []jobMessage) error
}

var errJobNotFound = errors.New("no such job")

// Job limits. A task gets this many attempts (leases) in all; the queue
// retries a failed delivery as often (wrangler.toml's max_retries + 1).
// The lease is renewed by every part and every part's worth of hashing,
// so it only needs to outlast one part; an invocation that goes quiet for
// longer is taken for dead. CKPTPACK_JOB_LEASE_S overrides it.
const (
	jobMaxAttempts         = 6
	defaultJobLease        = 120 * time.Second
	defaultInvocationBytes = 256 << 20
	queueSendBatch         = 100 // Queue.sendBatch takes at most 100 messages
)

// jobRequest is the body of POST /v1/jobs: a checkpoint request and the
// job's work split.
type jobRequest struct {
	checkpointRequest
	// PartSize is the multipart part size in bytes (default: as for
	// /v1/checkpoints); InvocationBytes is how much output one invocation
	// makes or hashes at most, a whole number of parts.
	PartSize        int   `json:"part_size"`
	InvocationBytes int64 `json:"invocation_bytes"`
}

// jobRecord is what a job is, fixed when it is created.
type jobRecord struct {
	ID              string            `json:"id"`
	Request         checkpointRequest `json:"request"`
	Key             string            `json:"key"`
	Title           string            `json:"title"`
	UploadID        string            `json:"upload_id"`
	Size            int64             `json:"size"`
	PartSize        int               `json:"part_size"`
	Parts           int               `json:"parts"`
	PartsPerMessage int               `json:"parts_per_message"`
	HeaderSHA256    string            `json:"header_sha256"`
	InputETags      map[string]string `json:"input_etags"` // object key → etag when planned
	Architecture    string            `json:"architecture"`
	// HashFrom is where the hash lane starts: 0 (the object's SHA-256) or,
	// with DataHash (modelspec.hash_sha256), the end of the header.
	HashFrom int64 `json:"hash_from"`
	DataHash bool  `json:"data_hash"`
	// LeaseMS and MaxAttempts bound each task (jobs.mjs reads them).
	LeaseMS     int64 `json:"lease_ms"`
	MaxAttempts int   `json:"max_attempts"`
}

func (r *jobRecord) invocationBytes() int64 { return int64(r.PartsPerMessage) * int64(r.PartSize) }

// part returns the output byte range of part n.
func (r *jobRecord) part(n int) (lo, hi int64) {
	lo = int64(n-1) * int64(r.PartSize)
	return lo, min(lo+int64(r.PartSize), r.Size)
}

// jobState is what a job's object keeps changing.
type jobState struct {
	Status     string `json:"status"` // running, completing, done, failed, cancelled
	PartsDone  int    `json:"parts_done"`
	BytesDone  int64  `json:"bytes_done"`
	HashOffset int64  `json:"hash_offset"`
	HashState  []byte `json:"hash_state"`
	SHA256     string `json:"sha256"`
	HashSHA256 string `json:"hash_sha256"`
	Error      string `json:"error"`
	// Retries counts attempts after a task's first; LastError is the
	// last failed attempt's error.
	Retries   int    `json:"retries"`
	LastError string `json:"last_error"`
	Created   int64  `json:"created"` // Unix milliseconds
	Updated   int64  `json:"updated"`
}

// jobLease is the answer to Lease.
type jobLease struct {
	Go      bool     `json:"go"`
	Ended   bool     `json:"ended"`
	Attempt int      `json:"attempt"`
	State   jobState `json:"state"`
}

type jobView struct {
	Record jobRecord      `json:"record"`
	State  jobState       `json:"state"`
	Parts  map[int]string `json:"parts"` // part number → etag
}

// jobMessage is one queue message.
type jobMessage struct {
	Job         string `json:"job"`
	Kind        string `json:"kind"` // "parts", "hash", "first", "complete"
	First, Last int    `json:",omitempty"`
	Offset      int64  `json:"offset,omitempty"`
}

// task names the message's piece of work, for its lease.
func (m *jobMessage) task() string {
	switch m.Kind {
	case "parts":
		return fmt.Sprintf("parts:%d", m.First)
	case "hash":
		return fmt.Sprintf("hash:%d", m.Offset)
	}
	return m.Kind
}

// jobs serves the job endpoints and consumes the job queue.
type jobs struct {
	store   objectStore
	backend jobBackend
	now     func() time.Time
	lease   time.Duration // 0: defaultJobLease
}

// jobAnswer is the JSON of a job for its endpoints.
type jobAnswer struct {
	ID           string   `json:"id"`
	Status       string   `json:"status"`
	Key          string   `json:"key"`
	UploadID     string   `json:"upload_id"`
	Bytes        int64    `json:"bytes"`
	Architecture string   `json:"architecture"`
	Parts        int      `json:"parts"`
	PartSize     int      `json:"part_size"`
	PartsDone    int      `json:"parts_done"`
	BytesDone    int64    `json:"bytes_done"`
	HashedBytes  int64    `json:"hashed_bytes"`
	ETASeconds   *float64 `json:"eta_s,omitempty"`
	Retries      int      `json:"retries"`
	LastError    string   `json:"last_error,omitempty"`
	SHA256       string   `json:"sha256,omitempty"`
	HashSHA256   string   `json:"hash_sha256,omitempty"`
	Error        string   `json:"error,omitempty"`
}

func (j *jobs) answer(v *jobView) *jobAnswer {
	r, st := &v.Record, &v.State
	a := &jobAnswer{ID: r.ID, Status: st.Status, Key: r.Key, UploadID: r.UploadID, Bytes: r.Size, Architecture: r.Architecture,
		Parts: r.Parts, PartSize: r.PartSize, PartsDone: st.PartsDone, BytesDone: st.BytesDone,
		HashedBytes: st.HashOffset - r.HashFrom, Error: st.Error, Retries: st.Retries, LastError: st.LastError}
	if st.Status == "done" {
		a.SHA256, a.HashSHA256 = st.SHA256, st.HashSHA256
	}
	// ETA from the pace so far: the work is the parts' bytes and the hash
	// lane's, which run side by side, so the slower of the two decides.
	if st.Status == "running" {
		elapsed := float64(j.now().UnixMilli()-st.Created) / 1000
		partsFrac := float64(st.BytesDone) / float64(r.Size)
		hashFrac := float64(a.HashedBytes) / float64(max(r.Size-r.HashFrom, 1))
		if f := min(partsFrac, hashFrac); f > 0 && elapsed > 0 {
			eta := elapsed/f - elapsed
			a.ETASeconds = &eta
		}
	}
	return a
}

func decodeJobRequest(r io.Reader) (*jobRequest, error) {
	dec := json.NewDecoder(io.LimitReader(r, maxRequestBody))
	dec.DisallowUnknownFields()
	var req jobRequest
	if err := dec.Decode(&req); err != nil {
		return nil, badRequest("request body: %v", err)
	}
	if dec.More() {
		return nil, badRequest("request body: more than one JSON value")
	}
	if err := req.validate(); err != nil {
		return nil, err
	}
	if req.PartSize != 0 && (req.PartSize < minPartSize || req.PartSize%(1<<20) != 0) {
		return nil, badRequest(`request body: "part_size" must be a whole number of MiB, at least 5 MiB (R2's minimum), not %d`, req.PartSize)
	}
	if req.InvocationBytes < 0 {
		return nil, badRequest(`request body: "invocation_bytes" must be positive, not %d`, req.InvocationBytes)
	}
	return &req, nil
}

func newJobID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// create handles POST /v1/jobs.
func (j *jobs) create(store objectStore, r *http.Request) (*jobAnswer, error) {
	req, err := decodeJobRequest(r.Body)
	if err != nil {
		return nil, err
	}
	t, err := req.openTarget(store, j.now())
	if err != nil {
		return nil, err
	}
	// Jobs run for minutes, so two of them to one prefix would both see
	// the same listing: the counter is reserved in a Durable Object.
	counter, err := j.backend.ReserveCounter(strings.TrimSuffix(t.next.Path(), t.next.Name)+t.filename, t.next.Counter)
	if err != nil {
		return nil, err
	}
	name := checkpoint.OutputNameAt(t.subfolder, t.filename, counter)
	key := name.Path()

	save, err := req.saveRequest(t.inputs, name.Title)
	if err != nil {
		return nil, err
	}
	plan, err := checkpoint.PlanCheckpoint(save)
	if err != nil {
		return nil, err
	}
	partSize := req.PartSize
	if partSize == 0 {
		partSize = partSizeFor(plan.Size)
	}
	parts := int((plan.Size + int64(partSize) - 1) / int64(partSize))
	if parts > maxParts {
		return nil, badRequest(`%s: %d bytes in parts of %d bytes are %d parts, more than R2's %d; use a larger "part_size"`, key, plan.Size, partSize, parts, maxParts)
	}
	if err := headerFitsPart(key, plan, partSize); err != nil {
		return nil, err
	}
	if req.InvocationBytes == 0 {
		req.InvocationBytes = defaultInvocationBytes
	}
	perMessage := max(1, int(req.InvocationBytes/int64(partSize)))
	headerSum := sha256.Sum256(plan.Header)
	rec := &jobRecord{
		ID: newJobID(), Request: req.checkpointRequest, Key: key, Title: name.Title, Size: plan.Size,
		PartSize: partSize, Parts: parts, PartsPerMessage: perMessage,
		HeaderSHA256: hex.EncodeToString(headerSum[:]), Architecture: plan.Architecture, InputETags: t.etags,
		LeaseMS: j.leaseTime().Milliseconds(), MaxAttempts: jobMaxAttempts,
	}
	if plan.HashSlot != 0 {
		rec.DataHash, rec.HashFrom = true, int64(len(plan.Header))
	}
	upload, err := store.CreateMultipartUpload(key, partSize, rec.ID)
	if err != nil {
		return nil, err
	}
	rec.UploadID = upload.UploadID()
	if err := j.backend.Create(rec); err != nil {
		return nil, errors.Join(err, store.AbortMultipartUpload(key, rec.UploadID))
	}
	msgs := []jobMessage{{Job: rec.ID, Kind: "hash", Offset: rec.HashFrom}}
	first := 1
	if rec.DataHash {
		first = 2 // part 1 waits for the data hash
	}
	for n := first; n <= parts; n += perMessage {
		msgs = append(msgs, jobMessage{Job: rec.ID, Kind: "parts", First: n, Last: min(n+perMessage-1, parts)})
	}
	if err := j.backend.Send(msgs); err != nil {
		err = fmt.Errorf("job %s: queueing its work: %w", rec.ID, err)
		if ended, ferr := j.backend.Fail(rec.ID, err.Error()); ferr == nil && ended {
			err = errors.Join(err, store.AbortMultipartUpload(key, rec.UploadID))
		}
		return nil, err
	}
	v := &jobView{Record: *rec, State: jobState{Status: "running", HashOffset: rec.HashFrom, Created: j.now().UnixMilli()}}
	return j.answer(v), nil
}

// jobID is the {id} of /v1/jobs/{id}.
func jobID(path string) (string, error) {
	id := strings.TrimPrefix(path, "/v1/jobs/")
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		return "", &apiError{Status: http.StatusNotFound, Message: fmt.Sprintf("no job %q (job ids are 32 hex digits)", id)}
	}
	return id, nil
}

func (j *jobs) view(id string) (*jobView, error) {
	v, err := j.backend.View(id)
	if errors.Is(err, errJobNotFound) {
		return nil, &apiError{Status: http.StatusNotFound, Message: fmt.Sprintf("no job %q", id)}
	}
	return v, err
}

// status handles GET /v1/jobs/{id}.
func (j *jobs) status(id string) (*jobAnswer, error) {
	v, err := j.view(id)
	if err != nil {
		return nil, err
	}
	return j.answer(v), nil
}

// cancel handles DELETE /v1/jobs/{id}: the job ends and its upload is
// aborted, so no object appears and no upload stays open. Parts still
// being made find the job cancelled (or their upload gone) and stop.
func (j *jobs) cancel(store objectStore, id string) (*jobAnswer, error) {
	v, err := j.view(id)
	if err != nil {
		return nil, err
	}
	st, ended, err := j.backend.Cancel(id)
	if err != nil {
		return nil, err
	}
	v.State = *st
	if !ended {
		return nil, &apiError{Status: http.StatusConflict, Message: fmt.Sprintf("job %s is %s, not running: nothing to cancel", id, st.Status), Key: v.Record.Key}
	}
	if err := store.AbortMultipartUpload(v.Record.Key, v.Record.UploadID); err != nil {
		return nil, err
	}
	return j.answer(v), nil
}

// errJobOver: the job is no longer running; its messages are dropped.
var errJobOver = errors.New("the job is no longer running")

// permanentError is a failure a retry cannot fix (inputs changed since the
// job was planned): the job fails at once.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

// leaseTime is the lease of every task of the jobs created here.
func (j *jobs) leaseTime() time.Duration {
	if j.lease > 0 {
		return j.lease
	}
	return defaultJobLease
}

// consume handles one queue message: id is its queue message id, the
// holder of the lease it takes. A nil error acks it; retry says whether a
// failure should be retried.
func (j *jobs) consume(ctx context.Context, body, id string) (retry bool, err error) {
	var m jobMessage
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return false, fmt.Errorf("queue message %q: %w", body, err)
	}
	w := &jobWork{jobs: j, msg: &m, body: body, holder: id}
	err = w.run(ctx)
	switch {
	case err == nil, errors.Is(err, errJobOver):
		return false, nil
	case errors.Is(err, errJobNotFound):
		return false, err
	}
	var perm permanentError
	if w.attempt > 0 && !errors.As(err, &perm) && w.attempt < w.view.Record.MaxAttempts {
		if rerr := j.backend.Release(m.Job, m.task(), w.attempt, err.Error()); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return true, err
	}
	if w.view == nil || (w.attempt == 0 && !errors.As(err, &perm)) {
		return true, err // the job's object did not answer: try again
	}
	msg := fmt.Sprintf("%s: %s failed (attempt %d of %d): %v", w.view.Record.Key, m.task(), w.attempt, w.view.Record.MaxAttempts, err)
	if errors.As(err, &perm) {
		msg = fmt.Sprintf("%s: %s: %v", w.view.Record.Key, m.task(), err)
	}
	return false, errors.Join(err, j.failJob(&w.view.Record, msg))
}

// failJob ends the job with msg and, if this call ended it, aborts its
// upload.
func (j *jobs) failJob(rec *jobRecord, msg string) error {
	ended, err := j.backend.Fail(rec.ID, msg)
	if err != nil || !ended {
		return err
	}
	return j.store.AbortMultipartUpload(rec.Key, rec.UploadID)
}

// jobWork is one delivery of a message: its lease, once taken.
type jobWork struct {
	jobs         *jobs
	msg          *jobMessage
	body, holder string
	view         *jobView
	attempt      int
}

func (w *jobWork) run(ctx context.Context) error {
	j, m := w.jobs, w.msg
	v, err := j.backend.View(m.Job)
	if err != nil {
		return err
	}
	w.view = v
	if m.Kind == "complete" {
		if v.State.Status != "completing" {
			return errJobOver
		}
	} else if v.State.Status != "running" {
		return errJobOver
	}
	l, err := j.backend.Lease(m.Job, m.task(), w.holder, w.body)
	if err != nil {
		return err
	}
	if !l.Go {
		if l.Ended { // out of attempts: the lease failed the job
			return errors.Join(errJobOver, j.store.AbortMultipartUpload(v.Record.Key, v.Record.UploadID))
		}
		return errJobOver // done, or another delivery holds it
	}
	w.attempt = l.Attempt
	v.State = l.State
	var st *jobState
	switch m.Kind {
	case "parts":
		st, err = w.makeParts(ctx, m.First, m.Last)
	case "first":
		st, err = w.makeParts(ctx, 1, 1)
	case "hash":
		st, err = w.hashStep(ctx, m.Offset)
	case "complete":
		return j.complete(&v.Record, w.attempt)
	default:
		return permanentError{fmt.Errorf("queue message of unknown kind %q", m.Kind)}
	}
	if err != nil {
		return err
	}
	// Claim before marking the task done: an invocation that dies in
	// between leaves the task to be re-queued, which then claims.
	if err := j.completeIfDone(v, st, w.holder); err != nil {
		return err
	}
	ok, err := j.backend.TaskDone(m.Job, m.task(), w.attempt)
	if err == nil && !ok {
		return errJobOver
	}
	return err
}

// renew extends the lease; errLeaseLost when the attempt lost it.
func (w *jobWork) renew() error {
	ok, err := w.jobs.backend.Renew(w.msg.Job, w.msg.task(), w.attempt)
	if err == nil && !ok {
		return errLeaseLost
	}
	return err
}

// errLeaseLost: another attempt took over the task (this one was taken
// for dead), or the job ended.
var errLeaseLost = fmt.Errorf("the lease of the task was lost: %w", errJobOver)

// plan re-plans the job from its request and checks that it is the plan
// the job started with: same size, same header bytes.
func (j *jobs) plan(rec *jobRecord) (*checkpoint.Plan, error) {
	req := rec.Request
	inputs, etags, err := openInputs(j.store, req.inputKeys())
	if err != nil {
		return nil, err
	}
	for key, etag := range etags {
		if etag != rec.InputETags[key] {
			return nil, permanentError{fmt.Errorf("%s: input %s was written since the job was planned (etag %s, was %s); start a new job", rec.Key, key, etag, rec.InputETags[key])}
		}
	}
	save, err := req.saveRequest(inputs, rec.Title)
	if err != nil {
		return nil, permanentError{err}
	}
	plan, err := checkpoint.PlanCheckpoint(save)
	if err != nil {
		return nil, permanentError{err}
	}
	sum := sha256.Sum256(plan.Header)
	if plan.Size != rec.Size || hex.EncodeToString(sum[:]) != rec.HeaderSHA256 {
		return nil, permanentError{fmt.Errorf("%s: the plan changed since the job was planned (now %d bytes, was %d)", rec.Key, plan.Size, rec.Size)}
	}
	return plan, nil
}

// makeParts makes the parts first…last that are not recorded yet, each
// run of missing parts from one window of the plan, recording every part
// as soon as it is uploaded.
func (w *jobWork) makeParts(ctx context.Context, first, last int) (*jobState, error) {
	j, v := w.jobs, w.view
	rec := &v.Record
	st := &v.State
	plan, err := j.plan(rec)
	if err != nil {
		return nil, err
	}
	if first == 1 && rec.DataHash {
		// Part 1 holds the header: patch the data hash the lane computed.
		if v.State.HashSHA256 == "" {
			return nil, fmt.Errorf("%s: part 1 is due before the data hash is known", rec.Key)
		}
		header := append([]byte(nil), plan.Header...)
		copy(header[plan.HashSlot:], v.State.HashSHA256)
		plan.Header = header
	}
	var upload multipartUpload
	for n := first; n <= last; {
		if _, done := v.Parts[n]; done {
			n++
			continue
		}
		end := n
		for end < last {
			if _, done := v.Parts[end+1]; done {
				break
			}
			end++
		}
		if upload == nil {
			if upload, err = j.store.ResumeMultipartUpload(rec.Key, rec.UploadID, rec.PartSize); err != nil {
				return nil, err
			}
		}
		lo, _ := rec.part(n)
		_, hi := rec.part(end)
		win, err := checkpoint.Window(ctx, plan, lo, hi)
		if err != nil {
			return nil, err
		}
		sink := newPartSink(rec.Key, upload, rec.PartSize, n, func(p, size int) error {
			s, ok, err := j.backend.PartDone(rec.ID, p, upload.ETag(p), int64(size), w.msg.task(), w.attempt)
			if err != nil {
				return err
			}
			if !ok {
				return errLeaseLost
			}
			st = s
			return nil
		})
		if err := checkpoint.Execute(ctx, win, sink, checkpoint.ExecuteOptions{BufferSize: copyBufferSize}); err != nil {
			return nil, err
		}
		n = end + 1
	}
	return st, nil
}

// hashStep advances the hash lane from offset by one invocation's budget.
func (w *jobWork) hashStep(ctx context.Context, offset int64) (*jobState, error) {
	j, v := w.jobs, w.view
	rec := &v.Record
	end := min(offset+rec.invocationBytes(), rec.Size)
	if v.State.HashOffset != offset {
		// A repeated message: the step was recorded. Its follow-up may
		// not have been sent (the invocation ended in between): send it
		// again; a duplicate of that one is dropped the same way.
		if v.State.HashOffset == end {
			return &v.State, j.sendAfterHash(rec, end)
		}
		return &v.State, nil
	}
	h := sha256.New()
	if len(v.State.HashState) > 0 {
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(v.State.HashState); err != nil {
			return nil, permanentError{fmt.Errorf("job %s: stored hash state: %w", rec.ID, err)}
		}
	}
	plan, err := j.plan(rec)
	if err != nil {
		return nil, err
	}
	win, err := checkpoint.Window(ctx, plan, offset, end)
	if err != nil {
		return nil, err
	}
	sink := &hashSink{h: h, every: int64(rec.PartSize), renew: w.renew}
	if err := checkpoint.Execute(ctx, win, sink, checkpoint.ExecuteOptions{BufferSize: copyBufferSize}); err != nil {
		return nil, err
	}
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return nil, err
	}
	sum := ""
	if end == rec.Size {
		if rec.DataHash {
			sum = "0x" + hex.EncodeToString(h.Sum(nil))
		} else {
			sum = hex.EncodeToString(h.Sum(nil))
		}
	}
	st, ok, err := j.backend.HashStep(rec.ID, offset, end, state, sum, w.msg.task(), w.attempt)
	if err != nil {
		return nil, err
	}
	if !ok {
		if st.HashOffset != end {
			return nil, errLeaseLost
		}
		return st, j.sendAfterHash(rec, end) // recorded by an earlier attempt
	}
	return st, j.sendAfterHash(rec, end)
}

// sendAfterHash queues what follows the hash lane's step ending at end.
func (j *jobs) sendAfterHash(rec *jobRecord, end int64) error {
	switch {
	case end < rec.Size:
		return j.backend.Send([]jobMessage{{Job: rec.ID, Kind: "hash", Offset: end}})
	case rec.DataHash:
		return j.backend.Send([]jobMessage{{Job: rec.ID, Kind: "first"}})
	}
	return nil
}

// completeIfDone claims the job once every part and the hash are
// recorded (of the invocations that see that, one claim succeeds) and
// completes it.
func (j *jobs) completeIfDone(v *jobView, st *jobState, holder string) error {
	rec := &v.Record
	if st == nil || st.Status != "running" || st.PartsDone != rec.Parts || st.HashOffset != rec.Size {
		return nil
	}
	body, _ := json.Marshal(jobMessage{Job: rec.ID, Kind: "complete"})
	attempt, err := j.backend.Claim(rec.ID, holder, string(body))
	if err != nil || attempt == 0 {
		return err
	}
	return j.complete(rec, attempt)
}

// complete completes the upload with the recorded parts and marks the job
// done, for the attempt holding the "complete" task. Re-driven after an
// attempt died, it finds the object already there if that attempt got as
// far as completing it: the upload's owner (the job id) tells.
func (j *jobs) complete(rec *jobRecord, attempt int) error {
	fail := func(err error) error {
		return permanentAfterFail{errors.Join(err, j.failJob(rec, err.Error()))}
	}
	finish := func() error {
		ok, err := j.backend.Finish(rec.ID, attempt)
		if err == nil && !ok {
			return errLeaseLost
		}
		return err
	}
	// As in multipartSink.Finish: R2 multipart uploads take no
	// precondition, so check right before completing.
	info, err := j.store.Head(rec.Key)
	switch {
	case err == nil && info.Owner == rec.ID && info.Size == rec.Size:
		return finish()
	case err == nil:
		return fail(fmt.Errorf("%s: %w", rec.Key, errKeyTaken))
	case !errors.Is(err, errObjectNotFound):
		return err
	}
	done, err := j.backend.View(rec.ID)
	if err != nil {
		return err
	}
	parts := make([]uploadedPart, rec.Parts)
	for n := 1; n <= rec.Parts; n++ {
		etag, ok := done.Parts[n]
		if !ok {
			return fail(fmt.Errorf("%s: part %d is not recorded", rec.Key, n))
		}
		parts[n-1] = uploadedPart{N: n, ETag: etag}
	}
	if err := j.store.CompleteMultipartUpload(rec.Key, rec.UploadID, parts); err != nil {
		return fail(err)
	}
	return finish()
}

// permanentAfterFail: the job has been failed already; the message is acked.
type permanentAfterFail struct{ error }

func (e permanentAfterFail) Is(target error) bool { return target == errJobOver }

// hashSink hashes what is written; a hash pass over a window of the plan.
// It calls renew after every every bytes (the lease's heartbeat).
type hashSink struct {
	h            hash.Hash
	every, since int64
	renew        func() error
}

func (s *hashSink) Write(p []byte) (int, error) {
	if s.since += int64(len(p)); s.renew != nil && s.since >= s.every {
		s.since = 0
		if err := s.renew(); err != nil {
			return 0, err
		}
	}
	return s.h.Write(p)
}
func (s *hashSink) Finish() error { return nil }
func (s *hashSink) Abort() error  { return nil }
