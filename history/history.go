// Package history keeps the rooms' histories of a filehub node that runs
// alone (hub.HistoryStore), in one bbolt file in the state folder, so
// that a restart, a crash included, forgets nothing a member was shown:
// each room's epoch, its feed events and its chat and snippets, with
// their seqs.
//
// Why bbolt: on a single node the room's delivery pass already gives the
// order and the seqs; what is missing is only that the history outlive
// the process. bbolt is a small, well-kept embedded B+tree (etcd's store):
// one file, ACID transactions, copy-on-write pages, so a killed process
// leaves the last committed state and nothing to repair, and no goroutine
// or server of its own. An embedded NATS server with JetStream would bring
// a server, its goroutines and its own order to a node that needs none of
// them; several nodes use NATS (package cluster) because there the order
// must be shared.
//
// Layout: a bucket per room under "rooms", holding "meta" (epoch, the
// newest seq no longer kept, when it last changed) and two buckets, "feed"
// and "chat", keyed by seq (8 bytes, big-endian), each value the seq of
// the entry of the same kind before it (8 bytes) then the entry's bytes.
//
// Bounds: each room keeps what its room in memory keeps (the hub's
// FeedSize events and ChatHistory messages of at most ChatHistoryBytes);
// at most MaxRooms rooms, the least recently changed going first; a room
// unchanged for MaxAge goes. A removed entry's page is reused by later
// ones; the file does not shrink.
package history

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"filehub/hub"

	bolt "go.etcd.io/bbolt"
)

// Config configures a Store. Zero values mean the documented default.
type Config struct {
	// MaxRooms bounds the rooms kept; the least recently changed go
	// first. Defaults to 256.
	MaxRooms int
	// MaxAge is how long a room nobody wrote to is kept. Defaults to 7
	// days.
	MaxAge time.Duration
	// NoSync skips the fsync of each commit: a killed process still loses
	// nothing (the writes are in the kernel), a machine that loses power
	// may lose the last seconds. Defaults to syncing.
	NoSync bool
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Now is the clock of the age bound. Defaults to time.Now.
	Now func() time.Time
}

// sweepEvery is how often the bounds on rooms are applied, besides at
// Open: rooms age in days, so a few times an hour is plenty.
const sweepEvery = 10 * time.Minute

// Store is a HistoryStore on a bbolt file. Open it, give it to the hub,
// and Close it after the hub.
type Store struct {
	db   *bolt.DB
	cfg  Config
	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

var _ hub.HistoryStore = (*Store)(nil)

var (
	roomsKey = []byte("rooms")
	metaKey  = []byte("meta")
	feedKey  = []byte("feed")
	chatKey  = []byte("chat")
)

// meta is a room's "meta" value.
type meta struct {
	Epoch   string `json:"epoch"`
	Dropped uint64 `json:"dropped"`
	At      int64  `json:"at"` // last change, Unix seconds
}

// Open opens (or makes) the store's file at path. A file another process
// holds open is an error after a second, naming it, rather than a wait.
func Open(path string, cfg Config) (*Store, error) {
	if cfg.MaxRooms <= 0 {
		cfg.MaxRooms = 256
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 7 * 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: cfg.NoSync})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			err = errors.New("in use by another process")
		}
		return nil, fmt.Errorf("history %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(roomsKey)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("history %s: %w", path, err)
	}
	s := &Store{db: db, cfg: cfg, done: make(chan struct{})}
	if err := s.sweep(); err != nil {
		db.Close()
		return nil, fmt.Errorf("history %s: %w", path, err)
	}
	s.wg.Add(1)
	go s.sweeper()
	return s, nil
}

// Close stops the sweeper and closes the file; call it after the hub's
// Close, once no room saves any more.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		close(s.done)
		s.wg.Wait()
		err = s.db.Close()
	})
	return err
}

// Path is the store's file.
func (s *Store) Path() string { return s.db.Path() }

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// LoadRoom implements hub.HistoryStore.
func (s *Store) LoadRoom(room string) (hub.KeptRoom, error) {
	var k hub.KeptRoom
	err := s.db.View(func(tx *bolt.Tx) error {
		rb := tx.Bucket(roomsKey).Bucket([]byte(room))
		if rb == nil {
			return nil
		}
		var m meta
		if err := json.Unmarshal(rb.Get(metaKey), &m); err != nil {
			return fmt.Errorf("room %q: meta: %w", room, err)
		}
		k.Epoch, k.Dropped = m.Epoch, m.Dropped
		for _, kind := range [][]byte{feedKey, chatKey} {
			b := rb.Bucket(kind)
			if b == nil {
				continue
			}
			chat := kind[0] == 'c'
			if err := b.ForEach(func(key, v []byte) error {
				if len(key) != 8 || len(v) < 8 {
					return fmt.Errorf("room %q: a damaged entry", room)
				}
				k.Entries = append(k.Entries, hub.KeptEntry{
					Seq: binary.BigEndian.Uint64(key), Prev: binary.BigEndian.Uint64(v),
					Chat: chat, Data: slices.Clone(v[8:]), // v is valid only in the transaction
				})
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return hub.KeptRoom{}, fmt.Errorf("history: %w", err)
	}
	slices.SortFunc(k.Entries, func(a, b hub.KeptEntry) int { return cmp.Compare(a.Seq, b.Seq) })
	return k, nil
}

// SaveRoom implements hub.HistoryStore: one transaction, committed (and
// synced, unless NoSync) before it returns.
func (s *Store) SaveRoom(room string, c hub.KeptChange) error {
	at := s.cfg.Now().Unix()
	err := s.db.Update(func(tx *bolt.Tx) error {
		rooms := tx.Bucket(roomsKey)
		rb := rooms.Bucket([]byte(room))
		if rb == nil {
			var err error
			if rb, err = rooms.CreateBucket([]byte(room)); err != nil {
				return err
			}
			// A room swept away while it was open: the entries before
			// those of this pass are gone, and a later load must say so.
			seen := map[bool]bool{}
			for _, e := range c.Add {
				if !seen[e.Chat] {
					seen[e.Chat] = true
					c.Dropped = max(c.Dropped, e.Prev)
				}
			}
		}
		m, err := json.Marshal(meta{Epoch: c.Epoch, Dropped: c.Dropped, At: at})
		if err != nil {
			return err
		}
		if err := rb.Put(metaKey, m); err != nil {
			return err
		}
		feed, err := rb.CreateBucketIfNotExists(feedKey)
		if err != nil {
			return err
		}
		chat, err := rb.CreateBucketIfNotExists(chatKey)
		if err != nil {
			return err
		}
		for _, e := range c.Add {
			b := feed
			if e.Chat {
				b = chat
			}
			v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(e.Data)), e.Prev)
			if err := b.Put(seqKey(e.Seq), append(v, e.Data...)); err != nil {
				return err
			}
		}
		if err := trim(feed, c.FeedFrom); err != nil {
			return err
		}
		return trim(chat, c.ChatFrom)
	})
	if err != nil {
		return fmt.Errorf("history: room %q: %w", room, err)
	}
	return nil
}

// trim deletes b's entries before seq from (none when from is 0).
func trim(b *bolt.Bucket, from uint64) error {
	if from == 0 {
		return nil
	}
	c := b.Cursor()
	for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) < from; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) sweeper() {
	defer s.wg.Done()
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			if err := s.sweep(); err != nil {
				s.cfg.Logger.Error("sweep history", "err", err)
			}
		}
	}
}

// sweep removes the rooms past MaxAge, then the least recently changed
// past MaxRooms.
func (s *Store) sweep() error {
	cutoff := s.cfg.Now().Add(-s.cfg.MaxAge).Unix()
	return s.db.Update(func(tx *bolt.Tx) error {
		rooms := tx.Bucket(roomsKey)
		type aged struct {
			name []byte
			at   int64
		}
		var all []aged
		var old [][]byte
		if err := rooms.ForEachBucket(func(name []byte) error {
			var m meta
			_ = json.Unmarshal(rooms.Bucket(name).Get(metaKey), &m) // a damaged meta is an old room
			if m.At < cutoff {
				old = append(old, slices.Clone(name))
			} else {
				all = append(all, aged{slices.Clone(name), m.At})
			}
			return nil
		}); err != nil {
			return err
		}
		if len(all) > s.cfg.MaxRooms {
			slices.SortFunc(all, func(a, b aged) int { return cmp.Compare(a.at, b.at) })
			for _, a := range all[:len(all)-s.cfg.MaxRooms] {
				old = append(old, a.name)
			}
		}
		for _, name := range old {
			if err := rooms.DeleteBucket(name); err != nil {
				return err
			}
		}
		if len(old) > 0 {
			s.cfg.Logger.Info("history rooms removed", "rooms", len(old))
		}
		return nil
	})
}
