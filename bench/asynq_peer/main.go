// The Go Asynq peer of the overhead benchmark: the same no-op job (one INCR on bench:done) run by
// hibiken/asynq with its defaults, as the Go service fraiday replaces ran its tasks.
//
//	asynq-peer enqueue -redis ADDR -db N -queue Q -jobs N -kind noop|sleep
//	asynq-peer work    -redis ADDR -db N -queue Q -concurrency N
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

const counter = "bench:done"

// The I/O-bound job waits this long (as on an AI service), then counts itself.
const sleepFor = 200 * time.Millisecond

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: asynq-peer enqueue|work [flags]")
	}
	flags := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	addr := flags.String("redis", "127.0.0.1:6379", "Redis address")
	db := flags.Int("db", 0, "Redis database")
	queue := flags.String("queue", "bench", "queue name")
	jobs := flags.Int("jobs", 10000, "jobs to enqueue")
	kind := flags.String("kind", "noop", "noop or sleep (enqueue only)")
	concurrency := flags.Int("concurrency", 2, "worker concurrency")
	_ = flags.Parse(os.Args[2:])
	opt := asynq.RedisClientOpt{Addr: *addr, DB: *db}

	switch os.Args[1] {
	case "enqueue":
		client := asynq.NewClient(opt)
		defer client.Close()
		for i := 0; i < *jobs; i++ {
			payload := []byte(fmt.Sprintf(`{"n":%d}`, i))
			task := asynq.NewTask("bench:"+*kind, payload)
			if _, err := client.Enqueue(task, asynq.Queue(*queue), asynq.MaxRetry(0)); err != nil {
				log.Fatal(err)
			}
		}
	case "work":
		rdb := redis.NewClient(&redis.Options{Addr: *addr, DB: *db})
		mux := asynq.NewServeMux()
		mux.HandleFunc("bench:noop", func(ctx context.Context, t *asynq.Task) error {
			return rdb.Incr(ctx, counter).Err()
		})
		mux.HandleFunc("bench:sleep", func(ctx context.Context, t *asynq.Task) error {
			time.Sleep(sleepFor)
			return rdb.Incr(ctx, counter).Err()
		})
		srv := asynq.NewServer(opt, asynq.Config{Concurrency: *concurrency, Queues: map[string]int{*queue: 1}})
		if err := srv.Start(mux); err != nil {
			log.Fatal(err)
		}
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		<-stop
		srv.Shutdown()
	default:
		log.Fatalf("unknown command %q", os.Args[1])
	}
}
