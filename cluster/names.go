package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"filehub/hub"

	"github.com/nats-io/nats.go/jetstream"
)

// Join implements hub.Broker: creating the member's key claims its name in
// the room on every node at once; a name held by a dead instance is taken
// over.
func (b *Broker) Join(ctx context.Context, room string, j hub.Joining) (string, error) {
	return b.claim(ctx, room, j)
}

// Rename implements hub.Broker: the new name is claimed, then the old key
// deleted (the watchers see a rename, then ignore the delete).
func (b *Broker) Rename(ctx context.Context, room, id, old, name string) (string, error) {
	got, err := b.claim(ctx, room, hub.Joining{ID: id, Name: name})
	if err != nil {
		return "", err
	}
	b.release(room, id, old)
	return got, nil
}

// Leave implements hub.Broker: the member's key goes, by the writer, so a
// leave while NATS is away happens when it is back.
func (b *Broker) Leave(room, id, name string) { b.release(room, id, name) }

// claim registers j in room under j.Name or the first free name-N; a name
// held by a dead instance, or by this page's former session (j.Was, the
// same browser), is taken over.
func (b *Broker) claim(ctx context.Context, room string, j hub.Joining) (string, error) {
	id, name := j.ID, j.Name
	for i := 1; i < 10_000; i++ {
		n := name
		if i > 1 {
			n = name + "-" + strconv.Itoa(i)
		}
		key := memberKey(room, n)
		val, _ := json.Marshal(memberEntry{ID: id, Name: n, Node: b.instance, Browser: j.Browser})
		_, err := b.members.Create(ctx, key, val)
		if err == nil {
			return n, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return "", err
		}
		e, err := b.members.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			i-- // it went meanwhile: try the same name again
			continue
		case err != nil:
			return "", err
		}
		var held memberEntry
		if json.Unmarshal(e.Value(), &held) == nil && held.ID == id {
			return n, nil // already ours (registered again after a reconnect)
		}
		if j.Was != "" && held.ID == j.Was && held.Browser != "" && held.Browser == j.Browser {
			// This page's former session, perhaps on a node that died
			// and is not yet taken for gone: the page comes back to its
			// name. (Its old session, if it is still open somewhere, no
			// longer holds the key, so its leave deletes nothing.)
			if _, err := b.members.Update(ctx, key, val, e.Revision()); err == nil {
				b.log.Info("page came back; name kept", "room", room, "name", n, "was", j.Was, "member", id)
				return n, nil
			}
		}
		if json.Unmarshal(e.Value(), &held) != nil || !b.aliveInst(held.Node) && b.nodesKnown() {
			if _, err := b.members.Update(ctx, key, val, e.Revision()); err == nil {
				return n, nil
			}
		}
	}
	return "", errNoName
}

// release deletes member id's key for name, if it is still id's, by the
// writer: a leave while NATS is away happens when it is back.
func (b *Broker) release(room, id, name string) {
	b.enqueue(job{kind: jobDeleteMember, key: memberKey(room, name), owner: id, at: time.Now()})
}

// browserEntry is a page's value in FILEHUB_BROWSERS.
type browserEntry struct {
	Room string `json:"room"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

type cachedBrowser struct {
	entry browserEntry
	ok    bool
	until time.Time
}

// browserCache is how long a page found is believed: long enough that a
// page fetching many files costs one lookup, short enough that a rename or
// a move to another room shows soon. A page not found is not remembered:
// it may join any moment.
const browserCache = 2 * time.Second

// SetBrowser implements hub.Broker.
func (b *Broker) SetBrowser(browser, room string, ref hub.MemberRef) {
	b.cache.Delete(browser)
	if ref.Name == "" {
		b.enqueue(job{kind: jobBrowser, key: browser, owner: ref.ID, at: time.Now()})
		return
	}
	// At once, when it can: the page's first fetches follow its join by
	// milliseconds, and may reach another node.
	val, _ := json.Marshal(browserEntry{Room: room, ID: ref.ID, Name: ref.Name})
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := b.browsers.Put(ctx, browser, val); err != nil {
		b.enqueue(job{kind: jobBrowser, key: browser, value: val, at: time.Now()})
	}
}

// Browser implements hub.Broker.
func (b *Broker) Browser(ctx context.Context, browser string) (string, hub.MemberRef, bool) {
	if v, ok := b.cache.Load(browser); ok {
		c := v.(cachedBrowser)
		if time.Now().Before(c.until) {
			return c.entry.Room, hub.MemberRef{ID: c.entry.ID, Name: c.entry.Name}, c.ok
		}
	}
	c := cachedBrowser{until: time.Now().Add(browserCache)}
	e, err := b.browsers.Get(ctx, browser)
	if err != nil {
		return "", hub.MemberRef{}, false // not known (yet): not cached
	}
	c.ok = json.Unmarshal(e.Value(), &c.entry) == nil
	b.cache.Store(browser, c)
	return c.entry.Room, hub.MemberRef{ID: c.entry.ID, Name: c.entry.Name}, c.ok
}
