package cluster

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// sharesBucket holds the share links (package links), as dropsBucket holds
// the drop links: every node sees every link, and a download limit holds
// across nodes by compare-and-swap on the key's revision.
const sharesBucket = "FILEHUB_SHARES"

// ShareKeeper makes (or checks) the bucket of share links and returns its
// keeper: a drops.Keeper, the interface both kinds of link are kept
// through. It lives as long as the Broker's connection.
func (b *Broker) ShareKeeper(ctx context.Context) (*DropKeeper, error) {
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      sharesBucket,
		Description: "filehub: share links",
		History:     1,
		Replicas:    b.cfg.Replicas,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("nats: bucket %s: %w", sharesBucket, err)
	}
	return &DropKeeper{kv: kv}, nil
}
