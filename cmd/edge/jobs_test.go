package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ckptpack/ckptpack/internal/fixture"
)

// fakeJobs is jobBackend in memory with the transitions of jobs.mjs (its
// leases without expiry: the Go tests deliver one message at a time, and
// the watchdog's re-queue is tested under Miniflare), and its queue as a
// list of messages.
type fakeJobs struct {
	mu       sync.Mutex
	counters map[string]int
	jobs     map[string]*jobView
	tasks    map[string]*fakeTask // job id + " " + task name
	queue    []fakeMessage
	sent     int
}

type fakeMessage struct{ id, body string }

type fakeTask struct {
	attempt int
	holder  string
	done    bool
}

func newFakeJobs() *fakeJobs {
	return &fakeJobs{counters: map[string]int{}, jobs: map[string]*jobView{}, tasks: map[string]*fakeTask{}}
}

func (f *fakeJobs) ReserveCounter(prefix string, floor int) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := max(floor, f.counters[prefix]+1)
	f.counters[prefix] = n
	return n, nil
}

func (f *fakeJobs) Create(rec *jobRecord) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobs[rec.ID] = &jobView{Record: *rec, State: jobState{Status: "running", HashOffset: rec.HashFrom, Created: time.Now().UnixMilli()}, Parts: map[int]string{}}
	return nil
}

// get returns a deep copy, as the Durable Object's JSON answer is.
func (f *fakeJobs) get(id string) (*jobView, error) {
	v, ok := f.jobs[id]
	if !ok {
		return nil, fmt.Errorf("job %s: %w", id, errJobNotFound)
	}
	b, _ := json.Marshal(v)
	var c jobView
	_ = json.Unmarshal(b, &c)
	return &c, nil
}

func (f *fakeJobs) View(id string) (*jobView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.get(id)
}

func (f *fakeJobs) task(id, name string) *fakeTask {
	k := id + " " + name
	if f.tasks[k] == nil {
		f.tasks[k] = &fakeTask{}
	}
	return f.tasks[k]
}

func runs(st *jobState, task string) bool {
	if task == "complete" {
		return st.Status == "completing"
	}
	return st.Status == "running"
}

// held reports whether attempt holds task's lease.
func (f *fakeJobs) held(id, task string, attempt int) bool {
	t := f.task(id, task)
	return runs(&f.jobs[id].State, task) && !t.done && t.attempt == attempt
}

func (f *fakeJobs) Lease(id, task, holder, msg string) (*jobLease, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, t := f.jobs[id], f.task(id, task)
	if !runs(&v.State, task) || t.done || (t.holder != "" && t.holder != holder) {
		return &jobLease{State: v.State}, nil
	}
	if t.attempt >= v.Record.MaxAttempts {
		v.State.Status, v.State.Error = "failed", fmt.Sprintf("%s failed %d times", task, t.attempt)
		return &jobLease{Ended: true, State: v.State}, nil
	}
	t.attempt++
	t.holder = holder
	return &jobLease{Go: true, Attempt: t.attempt, State: v.State}, nil
}

func (f *fakeJobs) Renew(id, task string, attempt int) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.held(id, task, attempt), nil
}

func (f *fakeJobs) Release(id, task string, attempt int, msg string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held(id, task, attempt) {
		f.jobs[id].State.LastError = msg
	}
	return nil
}

func (f *fakeJobs) TaskDone(id, task string, attempt int) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.held(id, task, attempt) {
		return false, nil
	}
	f.task(id, task).done = true
	return true, nil
}

func (f *fakeJobs) PartDone(id string, n int, etag string, size int64, task string, attempt int) (*jobState, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.jobs[id]
	ok := f.held(id, task, attempt)
	if ok {
		if _, done := v.Parts[n]; !done {
			v.State.PartsDone++
			v.State.BytesDone += size
		}
		v.Parts[n] = etag
	}
	st := v.State
	return &st, ok, nil
}

func (f *fakeJobs) HashStep(id string, from, to int64, state []byte, sum, task string, attempt int) (*jobState, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.jobs[id]
	ok := f.held(id, task, attempt) && v.State.HashOffset == from
	if ok {
		v.State.HashOffset, v.State.HashState = to, state
		if sum != "" {
			if v.Record.DataHash {
				v.State.HashSHA256 = sum
			} else {
				v.State.SHA256 = sum
			}
		}
	}
	st := v.State
	return &st, ok, nil
}

func (f *fakeJobs) Claim(id, holder, msg string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.jobs[id]
	if v.State.Status != "running" || v.State.PartsDone != v.Record.Parts || v.State.HashOffset != v.Record.Size {
		return 0, nil
	}
	v.State.Status = "completing"
	*f.task(id, "complete") = fakeTask{attempt: 1, holder: holder}
	return 1, nil
}

func (f *fakeJobs) Finish(id string, attempt int) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.held(id, "complete", attempt) {
		return false, nil
	}
	f.task(id, "complete").done = true
	f.jobs[id].State.Status = "done"
	return true, nil
}

func (f *fakeJobs) Fail(id, msg string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.jobs[id]
	if v.State.Status != "running" && v.State.Status != "completing" {
		return false, nil
	}
	v.State.Status, v.State.Error = "failed", msg
	return true, nil
}

func (f *fakeJobs) Cancel(id string) (*jobState, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.jobs[id]
	ended := v.State.Status == "running"
	if ended {
		v.State.Status = "cancelled"
	}
	st := v.State
	return &st, ended, nil
}

func (f *fakeJobs) Send(msgs []jobMessage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range msgs {
		b, _ := json.Marshal(m)
		f.sent++
		f.queue = append(f.queue, fakeMessage{id: fmt.Sprint(f.sent), body: string(b)})
	}
	return nil
}

// take removes the first queued message.
func (f *fakeJobs) take() fakeMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.queue[0]
	f.queue = f.queue[1:]
	return m
}

// drain delivers the queued messages in random order, each one a second
// time with probability dup (a redelivery, as after a killed invocation),
// until the queue is empty. It returns the number of deliveries.
func (f *fakeJobs) drain(t *testing.T, j *jobs, rng *rand.Rand, dup float64) int {
	t.Helper()
	n := 0
	for {
		f.mu.Lock()
		if len(f.queue) == 0 {
			f.mu.Unlock()
			return n
		}
		i := rng.IntN(len(f.queue))
		m := f.queue[i]
		if rng.Float64() >= dup {
			f.queue = append(f.queue[:i], f.queue[i+1:]...)
		}
		f.mu.Unlock()
		n++
		retry, err := j.consume(context.Background(), m.body, m.id)
		if err != nil && !retry {
			t.Fatalf("message %s: %v", m.body, err)
		}
		if retry {
			f.mu.Lock()
			f.queue = append(f.queue, m)
			f.mu.Unlock()
		}
	}
}

// smallSD15 writes the sd15 oracle components with every tensor of two or
// more dimensions cut to a leading dimension of 1 (except the first ones,
// kept whole up to about 12 MiB, and tensors with exact values) into a
// memStore, so a real SD 1.5 plan spans several 5 MiB parts.
func smallSD15(t *testing.T) *memStore {
	t.Helper()
	dir, err := fixture.ArchDir("sd15")
	if err != nil {
		t.Fatal(err)
	}
	store := newMemStore()
	store.staging = true
	kept := int64(0)
	for _, c := range []string{"unet", "clip_l", "vae"} {
		m, err := fixture.LoadManifest(filepath.Join(dir, c+".json"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range m.Tensors {
			e := &m.Tensors[i]
			if len(e.Shape) < 2 || e.Value != nil || e.Key == "input_blocks.0.0.weight" {
				continue
			}
			if n, _ := e.NumBytes(); kept+n <= 12<<20 {
				kept += n
				continue
			}
			e.Shape = append([]int64{1}, e.Shape[1:]...)
		}
		file := filepath.Join(t.TempDir(), c+".safetensors")
		if _, err := fixture.WriteComponent(m, file, fixture.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		store.put("models/"+c+".safetensors", data)
	}
	return store
}

const smallJobBody = `"model": "models/unet.safetensors", "clip": ["models/clip_l.safetensors"], "vae": "models/vae.safetensors"`

// TestJobWritesWhatOneRequestWrites runs jobs over a real SD 1.5 plan with
// their messages delivered out of order and some twice, and compares each
// object with the one-request path's: the same bytes, the same SHA-256,
// with and without modelspec.hash_sha256.
func TestJobWritesWhatOneRequestWrites(t *testing.T) {
	for _, hash := range []bool{false, true} {
		t.Run(fmt.Sprintf("hash=%v", hash), func(t *testing.T) {
			store := smallSD15(t)
			backend := newFakeJobs()
			srv := newServer(store, testToken).withJobs(backend)
			extra := fmt.Sprintf(`, "hash": %v, "prompt": {"1": {"class_type": "X"}}`, hash)
			code, ref := do(t, srv, "POST", "/v1/checkpoints", "Bearer "+testToken, `{`+smallJobBody+`, "filename_prefix": "ref/x"`+extra+`}`)
			if code != http.StatusCreated {
				t.Fatalf("one request: %d %v", code, ref)
			}
			code, job := do(t, srv, "POST", "/v1/jobs", "Bearer "+testToken, `{`+smallJobBody+`, "filename_prefix": "jobs/x", "part_size": 5242880, "invocation_bytes": 5242880`+extra+`}`)
			if code != http.StatusAccepted {
				t.Fatalf("POST /v1/jobs: %d %v", code, job)
			}
			if job["parts"].(float64) < 3 {
				t.Fatalf("only %v parts", job["parts"])
			}
			deliveries := backend.drain(t, srv.jobs, rand.New(rand.NewPCG(1, 2)), 0.3)
			code, st := do(t, srv, "GET", "/v1/jobs/"+job["id"].(string), "Bearer "+testToken, "")
			if code != http.StatusOK || st["status"] != "done" {
				t.Fatalf("GET: %d %v", code, st)
			}
			got := store.objects[st["key"].(string)]
			want := store.objects[ref["key"].(string)]
			if !bytes.Equal(got, want) {
				t.Fatalf("job object (%d bytes) differs from the one-request object (%d bytes)", len(got), len(want))
			}
			if store.inProgress() != 0 {
				t.Error("an upload is left in progress")
			}
			sum := sha256.Sum256(got)
			if hash {
				if st["hash_sha256"] != ref["hash_sha256"] {
					t.Errorf("hash_sha256 %v, one request %v", st["hash_sha256"], ref["hash_sha256"])
				}
			} else if st["sha256"] != hex.EncodeToString(sum[:]) || st["sha256"] != ref["sha256"] {
				t.Errorf("sha256 %v, object %x, one request %v", st["sha256"], sum, ref["sha256"])
			}
			t.Logf("%d parts, %d deliveries", int(job["parts"].(float64)), deliveries)
		})
	}
}

// postSmallJob starts a job of smallSD15 in 5 MiB parts on a fake backend
// and returns the pieces a test drives it with, and the POST's reply.
func postSmallJob(t *testing.T) (*memStore, *fakeJobs, *server, map[string]any) {
	t.Helper()
	store := smallSD15(t)
	backend := newFakeJobs()
	srv := newServer(store, testToken).withJobs(backend)
	code, job := do(t, srv, "POST", "/v1/jobs", "Bearer "+testToken, `{`+smallJobBody+`, "part_size": 5242880}`)
	if code != http.StatusAccepted {
		t.Fatalf("POST: %d %v", code, job)
	}
	return store, backend, srv, job
}

func TestJobCancelAbortsTheUpload(t *testing.T) {
	store, backend, srv, job := postSmallJob(t)
	id := job["id"].(string)
	// One message done, then the cancel, then the rest.
	first := backend.take()
	if _, err := srv.jobs.consume(context.Background(), first.body, first.id); err != nil {
		t.Fatal(err)
	}
	code, st := do(t, srv, "DELETE", "/v1/jobs/"+id, "Bearer "+testToken, "")
	if code != http.StatusOK || st["status"] != "cancelled" {
		t.Fatalf("DELETE: %d %v", code, st)
	}
	backend.drain(t, srv.jobs, rand.New(rand.NewPCG(3, 4)), 0)
	if store.inProgress() != 0 {
		t.Error("the upload is still in progress")
	}
	for k := range store.objects {
		if strings.HasPrefix(k, "checkpoints/") {
			t.Errorf("object %s written", k)
		}
	}
	if code, _ := do(t, srv, "DELETE", "/v1/jobs/"+id, "Bearer "+testToken, ""); code != http.StatusConflict {
		t.Errorf("second DELETE: %d, want 409", code)
	}
}

func TestJobCountersAreDistinct(t *testing.T) {
	store := smallSD15(t)
	srv := newServer(store, testToken).withJobs(newFakeJobs())
	keys := map[string]bool{}
	for range 2 {
		code, job := do(t, srv, "POST", "/v1/jobs", "Bearer "+testToken, `{`+smallJobBody+`, "filename_prefix": "same/p"}`)
		if code != http.StatusAccepted {
			t.Fatalf("POST: %d %v", code, job)
		}
		keys[job["key"].(string)] = true
	}
	if !keys["same/p_00001_.safetensors"] || !keys["same/p_00002_.safetensors"] {
		t.Errorf("keys %v", keys)
	}
}

func TestJobFailsWhenInputsChange(t *testing.T) {
	store, backend, srv, job := postSmallJob(t)
	// Same size and header, other data: only the etag tells.
	vae := bytes.Clone(store.objects["models/vae.safetensors"])
	vae[len(vae)-1]++
	store.put("models/vae.safetensors", vae)
	first := backend.take()
	backend.mu.Lock()
	backend.queue = nil
	backend.mu.Unlock()
	if retry, err := srv.jobs.consume(context.Background(), first.body, first.id); retry || err == nil {
		t.Fatalf("consume: retry %v, err %v; want a permanent failure", retry, err)
	}
	_, st := do(t, srv, "GET", "/v1/jobs/"+job["id"].(string), "Bearer "+testToken, "")
	if st["status"] != "failed" || !strings.Contains(st["error"].(string), "models/vae.safetensors was written since the job was planned") {
		t.Errorf("status %v", st)
	}
	if store.inProgress() != 0 {
		t.Error("the upload is still in progress")
	}
}

func TestJobEndpointsErrors(t *testing.T) {
	srv := newServer(newMemStore(), testToken)
	if code, _ := do(t, srv, "POST", "/v1/jobs", "Bearer "+testToken, `{}`); code != http.StatusNotImplemented {
		t.Errorf("without bindings: %d, want 501", code)
	}
	srv.withJobs(newFakeJobs())
	for _, c := range []struct {
		method, target, body string
		want                 int
	}{
		{"GET", "/v1/jobs", "", http.StatusMethodNotAllowed},
		{"GET", "/v1/jobs/nope", "", http.StatusNotFound},
		{"GET", "/v1/jobs/0123456789abcdef0123456789abcdef", "", http.StatusNotFound},
		{"PUT", "/v1/jobs/0123456789abcdef0123456789abcdef", "", http.StatusMethodNotAllowed},
		{"POST", "/v1/jobs", `{` + smallJobBody + `, "part_size": 1000}`, http.StatusBadRequest},
		{"POST", "/v1/jobs", `{` + smallJobBody + `, "invocation_bytes": -1}`, http.StatusBadRequest},
		{"POST", "/v1/jobs", `{"model": "m"}`, http.StatusBadRequest},
	} {
		if code, body := do(t, srv, c.method, c.target, "Bearer "+testToken, c.body); code != c.want {
			t.Errorf("%s %s %s: %d %v, want %d", c.method, c.target, c.body, code, body, c.want)
		}
	}
}

func TestJobFailsAfterItsAttemptsAndAbortsTheUpload(t *testing.T) {
	store, backend, srv, job := postSmallJob(t)
	store.mu.Lock()
	store.failGetAfter = store.gets // every get from now on fails
	if store.failGetAfter == 0 {
		store.failGetAfter = 1
	}
	store.mu.Unlock()
	m := backend.take()
	for attempt := 1; ; attempt++ {
		retry, err := srv.jobs.consume(context.Background(), m.body, m.id)
		if err == nil {
			t.Fatal("a delivery succeeded with every get failing")
		}
		if !retry {
			if attempt != jobMaxAttempts {
				t.Errorf("the job failed at attempt %d, want %d", attempt, jobMaxAttempts)
			}
			break
		}
	}
	_, st := do(t, srv, "GET", "/v1/jobs/"+job["id"].(string), "Bearer "+testToken, "")
	want := fmt.Sprintf("(attempt %d of %d)", jobMaxAttempts, jobMaxAttempts)
	if st["status"] != "failed" || !strings.Contains(st["error"].(string), want) || !strings.Contains(st["error"].(string), "injected") {
		t.Errorf("status %v, want failed with %q and the get's error", st, want)
	}
	if st["retries"].(float64) != 0 && st["last_error"] == "" {
		t.Errorf("no last_error: %v", st)
	}
	if store.inProgress() != 0 {
		t.Error("the upload is still in progress")
	}
	// A later delivery of another message finds the job over.
	for len(backend.queue) > 0 {
		m := backend.take()
		if retry, err := srv.jobs.consume(context.Background(), m.body, m.id); retry || err != nil {
			t.Errorf("message after the failure: retry %v, %v", retry, err)
		}
	}
}
