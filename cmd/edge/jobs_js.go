//go:build js && wasm

package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"syscall/js"

	"github.com/syumai/workers/cloudflare/queues"
)

// doBackend is jobBackend over the Worker's Durable Object namespaces
// (jobs.mjs's classes, called over RPC with JSON text) and its queue
// producer.
type doBackend struct {
	jobs, counters js.Value // DurableObjectNamespace bindings
	queue          *queues.Producer
}

func (b *doBackend) stub(ns js.Value, name string) js.Value {
	return ns.Call("get", ns.Call("idFromName", name))
}

// rpc calls method on the object named name and returns its answer.
func (b *doBackend) rpc(ns js.Value, name, method string, args ...any) (js.Value, error) {
	v, err := call(b.stub(ns, name), method, args...)
	if err != nil {
		if strings.Contains(err.Error(), "no such job") {
			return js.Value{}, fmt.Errorf("job %s: %w", name, errJobNotFound)
		}
		return js.Value{}, fmt.Errorf("job state (Durable Object %s.%s): %w", name, method, err)
	}
	return v, nil
}

func (b *doBackend) rpcJSON(name, method string, out any, args ...any) error {
	v, err := b.rpc(b.jobs, name, method, args...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(v.String()), out); err != nil {
		return fmt.Errorf("job %s: %s answered %q: %w", name, method, v.String(), err)
	}
	return nil
}

func (b *doBackend) ReserveCounter(prefix string, floor int) (int, error) {
	v, err := b.rpc(b.counters, prefix, "reserve", floor)
	if err != nil {
		return 0, err
	}
	return v.Int(), nil
}

func (b *doBackend) Create(rec *jobRecord) error {
	text, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = b.rpc(b.jobs, rec.ID, "create", string(text))
	return err
}

func (b *doBackend) View(id string) (*jobView, error) {
	var v jobView
	return &v, b.rpcJSON(id, "view", &v)
}

func (b *doBackend) Lease(id, task, holder, msg string) (*jobLease, error) {
	var l jobLease
	return &l, b.rpcJSON(id, "lease", &l, task, holder, msg)
}

func (b *doBackend) Renew(id, task string, attempt int) (bool, error) {
	v, err := b.rpc(b.jobs, id, "renew", task, attempt)
	if err != nil {
		return false, err
	}
	return v.Bool(), nil
}

func (b *doBackend) Release(id, task string, attempt int, msg string) error {
	_, err := b.rpc(b.jobs, id, "release", task, attempt, msg)
	return err
}

func (b *doBackend) TaskDone(id, task string, attempt int) (bool, error) {
	v, err := b.rpc(b.jobs, id, "taskDone", task, attempt)
	if err != nil {
		return false, err
	}
	return v.Bool(), nil
}

// recorded is the answer of partDone and hashStep.
type recorded struct {
	State jobState `json:"state"`
	OK    bool     `json:"ok"`
}

func (b *doBackend) PartDone(id string, n int, etag string, size int64, task string, attempt int) (*jobState, bool, error) {
	var res recorded
	err := b.rpcJSON(id, "partDone", &res, n, etag, float64(size), task, attempt)
	return &res.State, res.OK, err
}

func (b *doBackend) HashStep(id string, from, to int64, state []byte, sum, task string, attempt int) (*jobState, bool, error) {
	var res recorded
	// Base64 text, as encoding/json decodes jobState.HashState.
	enc := base64.StdEncoding.EncodeToString(state)
	err := b.rpcJSON(id, "hashStep", &res, float64(from), float64(to), enc, sum, task, attempt)
	return &res.State, res.OK, err
}

func (b *doBackend) Claim(id, holder, msg string) (int, error) {
	v, err := b.rpc(b.jobs, id, "claim", holder, msg)
	if err != nil {
		return 0, err
	}
	return v.Int(), nil
}

func (b *doBackend) Finish(id string, attempt int) (bool, error) {
	v, err := b.rpc(b.jobs, id, "finish", attempt)
	if err != nil {
		return false, err
	}
	return v.Bool(), nil
}

func (b *doBackend) Fail(id, msg string) (bool, error) {
	v, err := b.rpc(b.jobs, id, "fail", msg)
	if err != nil {
		return false, err
	}
	return v.Bool(), nil
}

func (b *doBackend) Cancel(id string) (*jobState, bool, error) {
	var res struct {
		State jobState `json:"state"`
		Ended bool     `json:"ended"`
	}
	err := b.rpcJSON(id, "cancel", &res)
	return &res.State, res.Ended, err
}

func (b *doBackend) Send(msgs []jobMessage) error {
	for len(msgs) > 0 {
		n := min(len(msgs), queueSendBatch)
		batch := make([]*queues.MessageSendRequest, n)
		for i, m := range msgs[:n] {
			text, err := json.Marshal(m)
			if err != nil {
				return err
			}
			batch[i] = queues.NewTextMessageSendRequest(string(text))
		}
		if err := b.queue.SendBatch(batch); err != nil {
			return fmt.Errorf("queue send: %w", err)
		}
		msgs = msgs[n:]
	}
	return nil
}
