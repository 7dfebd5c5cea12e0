// Command asynq-producer leaves tasks in Redis the way the Go service does at its switch-over, with the
// real Asynq client and server: pending, scheduled (ProcessIn), unique, and retried (failed once by a
// real Asynq server, so Asynq itself moves them to the retry set).
//
// It reads a JSON list of task specs on stdin and prints one JSON line per task it left behind: id,
// type, queue, state and the Unix time it is due. With -consume it is the Go service's worker instead (a
// rollback): a real Asynq server on the given queues prints one JSON line per task it runs (id, type,
// queue, payload) and exits once those queues hold no pending, active, scheduled or retry task. Payloads named with "go_struct" are marshalled from the
// migration guide's Go payload structs, so they are byte for byte what the Go service enqueued.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
)

// The payload structs of the migration guide (000).
type ChatWorkflowPayload struct {
	MessageID      string `json:"message_id"`
	SessionID      string `json:"session_id"`
	SuggestionMode bool   `json:"suggestion_mode"`
}

type EventProcessorPayload struct {
	EventID    string                 `json:"event_id"`
	ClientID   string                 `json:"client_id"`
	EventType  string                 `json:"event_type"`
	EntityType string                 `json:"entity_type"`
	Payload    map[string]interface{} `json:"payload"`
}

type SemanticLayerSyncPayload struct {
	ClientID string `json:"client_id"`
	SyncType string `json:"sync_type"`
}

type spec struct {
	Type             string          `json:"type"`
	Queue            string          `json:"queue"`
	GoStruct         string          `json:"go_struct,omitempty"`
	Payload          json.RawMessage `json:"payload,omitempty"`
	RawPayload       string          `json:"raw_payload,omitempty"` // base64: bytes that are not JSON
	ID               string          `json:"id,omitempty"`
	ProcessInSeconds int             `json:"process_in_seconds,omitempty"`
	UniqueSeconds    int             `json:"unique_seconds,omitempty"`
	FailOnce         bool            `json:"fail_once,omitempty"`
}

type left struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Queue string `json:"queue"`
	State string `json:"state"`
	DueAt int64  `json:"due_at"`
}

func payload(s spec) ([]byte, error) {
	if s.RawPayload != "" {
		return base64.StdEncoding.DecodeString(s.RawPayload)
	}
	var value interface{}
	switch s.GoStruct {
	case "ChatWorkflowPayload":
		value = &ChatWorkflowPayload{}
	case "EventProcessorPayload":
		value = &EventProcessorPayload{}
	case "SemanticLayerSyncPayload":
		value = &SemanticLayerSyncPayload{}
	case "":
		return s.Payload, nil
	default:
		return nil, fmt.Errorf("unknown go_struct %q", s.GoStruct)
	}
	if err := json.Unmarshal(s.Payload, value); err != nil {
		return nil, err
	}
	return json.Marshal(value)
}

func enqueue(client *asynq.Client, s spec) (*asynq.TaskInfo, error) {
	body, err := payload(s)
	if err != nil {
		return nil, err
	}
	opts := []asynq.Option{asynq.Queue(s.Queue), asynq.MaxRetry(25)}
	if s.ID != "" {
		opts = append(opts, asynq.TaskID(s.ID))
	}
	if s.ProcessInSeconds > 0 {
		opts = append(opts, asynq.ProcessIn(time.Duration(s.ProcessInSeconds)*time.Second))
	}
	if s.UniqueSeconds > 0 {
		opts = append(opts, asynq.Unique(time.Duration(s.UniqueSeconds)*time.Second))
	}
	task := asynq.NewTask(s.Type, body, opts...)
	info, err := client.Enqueue(task)
	if err != nil {
		return nil, err
	}
	if s.UniqueSeconds > 0 {
		// The lock is Asynq's: an equal task enqueued again must be refused while it is held.
		again := asynq.NewTask(s.Type, body, asynq.Queue(s.Queue), asynq.Unique(time.Hour))
		if _, err := client.Enqueue(again); !errors.Is(err, asynq.ErrDuplicateTask) {
			return nil, fmt.Errorf("a second unique %s was not refused: %v", s.Type, err)
		}
	}
	return info, nil
}

// failOnce runs a real Asynq server whose handler fails every task, until each given task is in retry.
func failOnce(redis asynq.RedisConnOpt, inspector *asynq.Inspector, tasks []*asynq.TaskInfo, delay time.Duration) error {
	queues := map[string]int{}
	for _, t := range tasks {
		queues[t.Queue] = 1
	}
	server := asynq.NewServer(redis, asynq.Config{
		Concurrency:    4,
		Queues:         queues,
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return delay },
		LogLevel:       asynq.WarnLevel,
	})
	handler := asynq.HandlerFunc(func(_ context.Context, _ *asynq.Task) error { return errors.New("the Go service failed") })
	if err := server.Start(handler); err != nil {
		return err
	}
	defer server.Shutdown()
	deadline := time.Now().Add(60 * time.Second)
	for _, t := range tasks {
		for {
			info, err := inspector.GetTaskInfo(t.Queue, t.ID)
			if err == nil && info.State == asynq.TaskStateRetry {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("task %s never reached retry", t.ID)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

type ran struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Queue   string `json:"queue"`
	Payload string `json:"payload"`
}

// consume runs the Go service's worker until the queues are empty, printing each task it runs.
func consume(redis asynq.RedisConnOpt, queues []string, timeout time.Duration) error {
	inspector := asynq.NewInspector(redis)
	defer inspector.Close()
	weights := map[string]int{}
	for _, q := range queues {
		weights[q] = 1
	}
	out := json.NewEncoder(os.Stdout)
	var mu sync.Mutex
	server := asynq.NewServer(redis, asynq.Config{Concurrency: 2, Queues: weights, LogLevel: asynq.WarnLevel})
	handler := asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		queue, _ := asynq.GetQueueName(ctx)
		mu.Lock()
		defer mu.Unlock()
		return out.Encode(ran{id, t.Type(), queue, string(t.Payload())})
	})
	if err := server.Start(handler); err != nil {
		return err
	}
	defer server.Shutdown()
	deadline := time.Now().Add(timeout)
	for {
		left := 0
		for _, q := range queues {
			info, err := inspector.GetQueueInfo(q)
			if err == nil {
				left += info.Pending + info.Active + info.Scheduled + info.Retry
			}
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d task(s) still waiting in %v after %v", left, queues, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func main() {
	uri := flag.String("redis", "redis://127.0.0.1:6379/0", "Redis URL")
	retryDelay := flag.Duration("retry-delay", 3*time.Second, "retry delay of failed tasks")
	consumeQueues := flag.String("consume", "", "comma-separated queues to run tasks from, as the Go worker")
	flag.Parse()
	redis, err := asynq.ParseRedisURI(*uri)
	if err != nil {
		log.Fatal(err)
	}
	if *consumeQueues != "" {
		if err := consume(redis, strings.Split(*consumeQueues, ","), 60*time.Second); err != nil {
			log.Fatal(err)
		}
		return
	}
	var specs []spec
	if err := json.NewDecoder(os.Stdin).Decode(&specs); err != nil {
		log.Fatalf("reading specs: %v", err)
	}
	client := asynq.NewClient(redis)
	defer client.Close()
	inspector := asynq.NewInspector(redis)
	defer inspector.Close()

	var failing, others []spec
	for _, s := range specs {
		if s.FailOnce {
			failing = append(failing, s)
		} else {
			others = append(others, s)
		}
	}
	var enqueued []*asynq.TaskInfo
	for _, s := range failing {
		info, err := enqueue(client, s)
		if err != nil {
			log.Fatalf("enqueue %s: %v", s.Type, err)
		}
		enqueued = append(enqueued, info)
	}
	if len(enqueued) > 0 {
		if err := failOnce(redis, inspector, enqueued, *retryDelay); err != nil {
			log.Fatal(err)
		}
	}
	for _, s := range others {
		info, err := enqueue(client, s)
		if err != nil {
			log.Fatalf("enqueue %s: %v", s.Type, err)
		}
		enqueued = append(enqueued, info)
	}
	out := json.NewEncoder(os.Stdout)
	for _, t := range enqueued {
		info, err := inspector.GetTaskInfo(t.Queue, t.ID)
		if err != nil {
			log.Fatalf("inspect %s: %v", t.ID, err)
		}
		due := info.NextProcessAt.Unix()
		if info.NextProcessAt.IsZero() {
			due = 0
		}
		if err := out.Encode(left{info.ID, info.Type, info.Queue, info.State.String(), due}); err != nil {
			log.Fatal(err)
		}
	}
}
