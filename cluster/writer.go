package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"filehub/hub"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A job is a write to NATS that must happen even if NATS is away when it
// is asked for: the writer does them in order, and waits for NATS to come
// back, for up to maxJobAge.
type job struct {
	kind  jobKind
	room  string
	event *hub.Event      // jobFeed
	frame json.RawMessage // jobChat: the frame, without its seq
	id    string          // Nats-Msg-Id: a retry is never stored twice
	at    time.Time       // when it was asked for
	key   string          // jobDeleteMember, jobBrowser
	rev   uint64          // jobDeleteMember: only that revision (0: the owner's, whichever)
	value []byte          // jobBrowser: nil deletes, if it still names owner
	owner string          // the member whose key it must still be, to delete it
}

type jobKind uint8

const (
	jobFeed jobKind = iota
	jobChat
	jobDeleteMember
	jobBrowser
)

// maxJobAge is how long a write waits for NATS to come back before it is
// dropped (and logged): under the stream's duplicate window (10 min), so a
// retry of something stored before its ack was lost is still recognised.
const maxJobAge = 5 * time.Minute

// enqueue queues a write; a full queue (NATS away for long, under load)
// drops it, logged, rather than blocking a session or a request.
func (b *Broker) enqueue(j job) {
	// The read lock keeps Close from closing the queue during the send,
	// which never blocks.
	b.jobsMu.RLock()
	defer b.jobsMu.RUnlock()
	if b.closed.Load() {
		return // closing: dropped
	}
	select {
	case b.jobs <- j:
	default:
		b.log.Warn("write queue full; drop write", "kind", j.kind, "room", j.room)
	}
}

// closeJobs closes the queue, once: it reports whether this call did.
func (b *Broker) closeJobs() bool {
	b.jobsMu.Lock()
	defer b.jobsMu.Unlock()
	if !b.closed.CompareAndSwap(false, true) {
		return false
	}
	close(b.jobs)
	return true
}

// writer does the queued writes in order, one at a time: each feed event
// and chat line names the room's one of its kind before it, so it waits
// for that one's ack.
func (b *Broker) writer() {
	defer close(b.written)
	for j := range b.jobs {
		b.retry(j)
	}
}

// retry does j until it succeeds, or gives up after maxJobAge (or when the
// broker is closing), waiting a little longer after each failure.
func (b *Broker) retry(j job) {
	for attempt := 0; ; attempt++ {
		err := b.do(j)
		if err == nil {
			return
		}
		if time.Since(j.at) > maxJobAge || b.isDone() {
			b.log.Warn("give up write", "kind", j.kind, "room", j.room, "err", err)
			return
		}
		// NATS is away, or busy: try again, sooner at first.
		wait := min(time.Duration(attempt+1)*100*time.Millisecond, 2*time.Second)
		select {
		case <-time.After(wait):
		case <-b.done:
		}
	}
}

func (b *Broker) isDone() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// do makes one attempt at j.
func (b *Broker) do(j job) error {
	if j.at.IsZero() {
		j.at = time.Now()
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	switch j.kind {
	case jobFeed:
		data, err := json.Marshal(j.event)
		if err != nil {
			b.log.Error("encode feed event", "err", err)
			return nil
		}
		return b.publishHistory(ctx, feedSubject(j.room), data, j.id)
	case jobChat:
		return b.publishHistory(ctx, chatSubject(j.room), j.frame, j.id)
	case jobDeleteMember:
		if j.rev == 0 { // a leave: the key, if it is still the member's
			e, err := b.members.Get(ctx, j.key)
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				return nil
			} else if err != nil {
				return err
			}
			var held memberEntry
			if json.Unmarshal(e.Value(), &held) == nil && held.ID != j.owner {
				return nil
			}
			j.rev = e.Revision()
		}
		err := b.members.Delete(ctx, j.key, jetstream.LastRevision(j.rev))
		if err != nil && !isWrongRevision(err) && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return err
		}
		return nil
	case jobBrowser:
		if j.value != nil {
			_, err := b.browsers.Put(ctx, j.key, j.value)
			return err
		}
		e, err := b.browsers.Get(ctx, j.key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		var v browserEntry
		if json.Unmarshal(e.Value(), &v) == nil && v.ID != j.owner {
			return nil // a newer session of that page, on some node, holds it
		}
		err = b.browsers.Delete(ctx, j.key, jetstream.LastRevision(e.Revision()))
		if err != nil && !isWrongRevision(err) {
			return err
		}
		return nil
	}
	return nil
}

// publishHistory stores a feed event or a chat line on subj after the
// room's newest one of its kind, and says which that was (Filehub-Prev),
// so the room's messages of each kind form a chain with no gap a client
// could miss without being told. When another node stored one meanwhile,
// the stream refuses the expectation; the message goes after that one
// instead.
func (b *Broker) publishHistory(ctx context.Context, subj string, data []byte, id string) error {
	for range 32 {
		b.mu.Lock()
		prev := b.lastSeq[subj]
		b.mu.Unlock()
		msg := nats.NewMsg(subj)
		msg.Data = data
		msg.Header.Set(jetstream.MsgIDHeader, id)
		msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(prev, 10))
		msg.Header.Set(hdrPrev, strconv.FormatUint(prev, 10))
		msg.Header.Set(hdrNode, b.instance)
		ack, err := b.js.PublishMsg(ctx, msg)
		if err == nil {
			b.mu.Lock()
			if ack.Sequence > b.lastSeq[subj] {
				b.lastSeq[subj] = ack.Sequence
			}
			b.mu.Unlock()
			return nil
		}
		var apiErr *jetstream.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence {
			return err
		}
		last, err := b.lastFor(ctx, subj)
		if err != nil {
			return err
		}
		b.mu.Lock()
		b.lastSeq[subj] = last
		b.mu.Unlock()
	}
	return errors.New("cluster: the room's history kept moving; will try again")
}

// lastFor is the seq of the newest message on subj, 0 when none.
func (b *Broker) lastFor(ctx context.Context, subj string) (uint64, error) {
	s, err := b.js.Stream(ctx, streamName)
	if err != nil {
		return 0, err
	}
	m, err := s.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return m.Sequence, nil
}

func isWrongRevision(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		strings.Contains(err.Error(), "wrong last sequence")
}
