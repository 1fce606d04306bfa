//go:build js && wasm

// Command edge is ckptpack's Cloudflare Worker: the checkpoint engine next
// to the R2 bucket that holds the models. See server.go for the API and the
// README's "Edge host" for deploying it.
package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"syscall/js"
	"time"

	"github.com/syumai/workers"
	"github.com/syumai/workers/cloudflare"
	"github.com/syumai/workers/cloudflare/queues"
)

// Names of the Worker's bindings (wrangler.toml and `wrangler secret put`).
const (
	bucketBinding   = "BUCKET"
	tokenSecret     = "CKPTPACK_TOKEN"
	jobsBinding     = "JOBS"     // Durable Object namespace of CkptpackJob (jobs.mjs)
	countersBinding = "COUNTERS" // Durable Object namespace of CkptpackCounter
	queueBinding    = "PARTS"    // the Queue of job work, consumed by this Worker
	// leaseVar (optional, seconds) overrides a job task's lease,
	// defaultJobLease; the tests shorten it.
	leaseVar = "CKPTPACK_JOB_LEASE_S"
)

func main() {
	// worker.mjs starts a fresh Go instance for every request and every
	// queue batch, with that event's env, so reading bindings here is per
	// event.
	if !js.Global().Get("ckptpackR2").Truthy() {
		// Deployed from worker.mjs instead of entry.mjs: say so on every request.
		workers.Serve(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeError(w, &apiError{Status: http.StatusInternalServerError,
				Message: "the R2 helpers are missing: deploy build/edge/entry.mjs (wrangler.toml's main), not worker.mjs"})
		}))
		return
	}
	store := newR2Store(cloudflare.GetBinding(bucketBinding))
	srv := newServer(store, cloudflare.Getenv(tokenSecret))
	if jobsNS, countersNS := cloudflare.GetBinding(jobsBinding), cloudflare.GetBinding(countersBinding); jobsNS.Truthy() && countersNS.Truthy() && cloudflare.GetBinding(queueBinding).Truthy() {
		producer, err := queues.NewProducer(queueBinding)
		if err == nil {
			srv.withJobs(&doBackend{jobs: jobsNS, counters: countersNS, queue: producer})
			if secs, err := strconv.ParseFloat(cloudflare.Getenv(leaseVar), 64); err == nil && secs > 0 {
				srv.jobs.lease = time.Duration(secs * float64(time.Second))
			}
			queues.ConsumeNonBlock(func(batch *queues.MessageBatch) error {
				consumeBatch(srv.jobs, batch)
				return nil
			})
		}
	}
	workers.Serve(srv)
}

// consumeBatch runs each message of a batch (the queue is configured for
// one per batch, so one invocation makes one message's work), acking it or
// asking for a retry.
func consumeBatch(j *jobs, batch *queues.MessageBatch) {
	for _, m := range batch.Messages {
		body, err := m.StringBody()
		if err != nil {
			fmt.Println("ckptpack job queue:", err)
			m.Ack()
			continue
		}
		retry, err := j.consume(context.Background(), body, m.ID)
		if err != nil {
			fmt.Printf("ckptpack job message %s (attempt %d): %v\n", body, m.Attempts, err)
		}
		if retry {
			m.Retry()
		} else {
			m.Ack()
		}
	}
}
