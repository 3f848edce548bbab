package thumbs

// Hooks are testHooks, for the tests outside the package.
type Hooks struct {
	Waiting  func(key string)
	SlotWait func(key string, err error)
	Decoding func(key string)
}

// SetHooks installs h; call it before m serves anything.
func SetHooks(m *Maker, h Hooks) {
	m.hooks = testHooks{waiting: h.Waiting, slotWait: h.SlotWait, decoding: h.Decoding}
}

// CacheBytes is what m's cache index holds.
func CacheBytes(m *Maker) int64 { return m.cache.bytes() }

// EtagMatch is etagMatch.
var EtagMatch = etagMatch

// Render is Maker.render: decode, resize and encode, without the cache.
func Render(m *Maker, data []byte, size int) ([]byte, error) { return m.render(data, size) }
