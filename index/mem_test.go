package index_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"filehub/files"
	"filehub/index"
	"filehub/vocab"
)

// tree is n entries as the watcher announces them: 1,000 folders of
// n/1,000 files each, named like a real tree.
func tree(n int) []vocab.Change {
	words := []string{"report", "invoice", "photo", "Résumé", "notes", "draft", "Budget", "plan", "scan", "music"}
	now := time.Now()
	cs := make([]vocab.Change, 0, n+1000)
	per := max(1, n/1000)
	for d := 0; len(cs) < n; d++ {
		dir := fmt.Sprintf("%s-%03d", words[d%10], d/10)
		cs = append(cs, vocab.Change{Op: vocab.FSAdd, Path: dir, Dir: true, Modified: now})
		for i := 0; i < per && len(cs) < n; i++ {
			cs = append(cs, vocab.Change{Op: vocab.FSAdd, Path: fmt.Sprintf("%s/%s_%03d-%d.txt", dir, words[(d+i)%10], i, d),
				Size: int64(i * 100), Modified: now})
		}
	}
	return cs
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestMemoryPer100k reports the heap the index takes for 100,000 entries
// (BENCHMARKS.md), and fails past 40 MB: the bound -index-limit's default
// is written for.
func TestMemoryPer100k(t *testing.T) {
	if testing.Short() {
		t.Skip("measures")
	}
	store, err := files.Open(t.TempDir(), files.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	const n = 100_000
	before := heapInUse()
	cs := tree(n)
	ix := index.New(store, index.Config{})
	ix.Load(cs...)
	cs = nil
	held := heapInUse() - before
	t.Logf("%d entries: %.1f MB in the heap, %d bytes an entry", ix.Len(), float64(held)/1e6, held/uint64(ix.Len()))
	if held > 40e6 {
		t.Errorf("%d bytes for %d entries", held, n)
	}
	runtime.KeepAlive(ix)
}

// BenchmarkSearch100k searches a tree of 100,000 entries (BENCHMARKS.md).
func BenchmarkSearch100k(b *testing.B) {
	store, err := files.Open(b.TempDir(), files.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	ix := index.New(store, index.Config{})
	ix.Load(tree(100_000)...)
	for _, q := range []string{"report", "resume", "budget plan", "zzz", "sub/draft", "_042-"} {
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				if _, err := ix.Search(q, "", 50); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
