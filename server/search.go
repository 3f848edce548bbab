package server

import (
	"errors"
	"net/http"

	"filehub/hub"
	"filehub/index"
	"filehub/refusal"
)

// searchHandler is GET /_/search: the index's, or without one (-watch=false)
// a refusal saying search is not offered.
func searchHandler(ix *index.Index) http.Handler {
	if ix != nil {
		return ix.Handler()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		refusal.Write(w, http.StatusServiceUnavailable, "unavailable", "search needs the folder watched (-watch)")
	})
}

// hubSearch answers the hub's search frames from the index.
func hubSearch(ix *index.Index) func(q, path string, limit int) (hub.SearchResult, error) {
	return func(q, path string, limit int) (hub.SearchResult, error) {
		res, err := ix.Search(q, path, limit)
		switch {
		case errors.Is(err, index.ErrOff):
			return hub.SearchResult{}, hub.ErrUnavailable
		case err != nil:
			return hub.SearchResult{}, err
		}
		out := hub.SearchResult{Path: res.Path, Total: res.Total, Hits: make([]hub.SearchHit, len(res.Results))}
		for i, h := range res.Results {
			out.Hits[i] = hub.SearchHit{Info: h.Info, Match: h.Match}
		}
		return out, nil
	}
}
