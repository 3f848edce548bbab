package hub

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeEnvelope: whatever a client sends, the first decoding step
// never panics, an accepted frame has a kind and an id of at most maxIDLen,
// and the second step, into any kind's request, never panics either.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, seed := range []string{
		`{"kind":"get","id":"a","path":"myfile1.txt"}`,
		`{"kind":"chat","text":"hi"}`,
		`{"kind":"who","limit":5}`,
		`{"kind":"ping","t":1}`,
		`{"kind":""}`, `{"id":"z"}`, `{"kind":1,"id":"z"}`, `[]`, `null`, `{"kind":`, `"kind"`,
		`{"kind":"get","id":"` + strings.Repeat("x", 65) + `"}`,
		`{"kind":"get","path":{"a":1}}`, `{"kind":"chat","text":null}`, `{"kind":"rename","name":"\u0000"}`,
		`{"kind":"get","kind":"share"}`, "{\"kind\":\"chat\",\"text\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		kind, id, err := decodeEnvelope(data)
		if len(id) > maxIDLen {
			t.Fatalf("id of %d bytes accepted", len(id))
		}
		if err != nil {
			if _, ok := err.(*protoError); !ok {
				t.Fatalf("error %T, want a protoError", err)
			}
			return
		}
		if kind == "" {
			t.Fatal("accepted without a kind")
		}
		for _, v := range []any{&pathRequest{}, &chatRequest{}, &renameRequest{}, &whoRequest{}} {
			_ = decodeBody(data, v)
		}
		var c chatRequest
		if decodeBody(data, &c) == nil && utf8.Valid(data) && !utf8.ValidString(c.Text) {
			t.Fatalf("valid UTF-8 in, invalid text out: %q", c.Text)
		}
	})
}
