//go:build race

package hub

// raceEnabled: the race detector's runtime keeps more on the heap, so
// memory bounds allow for it.
const raceEnabled = true
