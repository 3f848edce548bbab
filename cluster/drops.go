package cluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"filehub/drops"

	"github.com/nats-io/nats.go/jetstream"
)

// dropsBucket keeps the drop links of every node: one key per link (the
// hash of its id), so that a link made on one node works on all of them,
// and its counts (max_bytes, max_files) are one count, changed by
// compare-and-swap on the key's revision.
const dropsBucket = "FILEHUB_DROPS"

// DropKeeper is the drops.Keeper of a cluster: the bucket FILEHUB_DROPS.
type DropKeeper struct {
	kv jetstream.KeyValue
}

var _ drops.Keeper = (*DropKeeper)(nil)

// DropKeeper makes (or checks) the bucket of drop links and returns its
// keeper. It lives as long as the Broker's connection.
func (b *Broker) DropKeeper(ctx context.Context) (*DropKeeper, error) {
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      dropsBucket,
		Description: "filehub: drop links",
		History:     1,
		Replicas:    b.cfg.Replicas,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("nats: bucket %s: %w", dropsBucket, err)
	}
	return &DropKeeper{kv: kv}, nil
}

// Get implements drops.Keeper.
func (k *DropKeeper) Get(ctx context.Context, key string) ([]byte, uint64, error) {
	e, err := k.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return nil, 0, fmt.Errorf("nats: drop link: %w", fs.ErrNotExist)
	case err != nil:
		return nil, 0, fmt.Errorf("nats: drop link: %w", err)
	}
	return e.Value(), e.Revision(), nil
}

// Create implements drops.Keeper.
func (k *DropKeeper) Create(ctx context.Context, key string, value []byte) error {
	_, err := k.kv.Create(ctx, key, value)
	return kvErr(err)
}

// Update implements drops.Keeper.
func (k *DropKeeper) Update(ctx context.Context, key string, value []byte, rev uint64) error {
	_, err := k.kv.Update(ctx, key, value, rev)
	return kvErr(err)
}

// Delete implements drops.Keeper: a purge, so that a forgotten link leaves
// no value behind.
func (k *DropKeeper) Delete(ctx context.Context, key string, rev uint64) error {
	err := k.kv.Purge(ctx, key, jetstream.LastRevision(rev))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	return kvErr(err)
}

// List implements drops.Keeper: the newest value of every key, read with
// a watch that stops once the values there are now have come.
func (k *DropKeeper) List(ctx context.Context) ([]drops.Entry, error) {
	w, err := k.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("nats: drop links: %w", err)
	}
	defer w.Stop()
	var out []drops.Entry
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("nats: drop links: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("nats: drop links: the watch ended")
			}
			if e == nil { // every value there was has come
				return out, nil
			}
			out = append(out, drops.Entry{Key: e.Key(), Value: e.Value(), Rev: e.Revision()})
		}
	}
}

// kvErr maps a refused compare-and-swap to drops.ErrConflict.
func kvErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyExists):
		return fmt.Errorf("nats: drop link: %w (%w)", drops.ErrConflict, err)
	}
	return fmt.Errorf("nats: drop link: %w", err)
}
