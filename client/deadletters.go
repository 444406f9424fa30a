package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
)

// DeadLetter is a record the bridge gave up delivering, with why.
type DeadLetter struct {
	ID         string          `json:"id"`
	Seq        int64           `json:"seq"`
	Module     string          `json:"module"`
	SessionID  string          `json:"session_id"`
	Data       json.RawMessage `json:"data"`
	ReceivedAt string          `json:"received_at"`
	// Attempts counts the attempts since the record was accepted or last
	// replayed (what the bridge's --max-attempts counts); AttemptsTotal
	// every attempt in its history.
	Attempts      int    `json:"attempts"`
	AttemptsTotal int    `json:"attempts_total"`
	Reason        string `json:"reason"`
}

// DeadLetterPage is one page of GET /api/dead-letters. NextAfter is the seq
// to pass as after for the next page, which exists if HasMore.
type DeadLetterPage struct {
	DeadLetters []DeadLetter `json:"dead_letters"`
	NextAfter   int64        `json:"next_after"`
	HasMore     bool         `json:"has_more"`
}

// Selector picks dead letters to replay or purge: exactly one of IDs,
// Module or All.
type Selector struct {
	IDs    []string `json:"ids,omitempty"`
	Module string   `json:"module,omitempty"`
	All    bool     `json:"all,omitempty"`
}

// DeadLetters lists dead letters in acceptance order: those after the given
// seq (0 for the first page), of module ("" for all), up to limit (1–1000).
func (c *Client) DeadLetters(ctx context.Context, module string, after int64, limit int) (DeadLetterPage, error) {
	q := url.Values{}
	if module != "" {
		q.Set("module", module)
	}
	if after > 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/api/dead-letters"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out DeadLetterPage
	err := c.do(ctx, http.MethodGet, path, nil, nil, &out)
	return out, err
}

// Replay puts the selected dead letters back at their module's head, in
// their original order, and returns how many.
func (c *Client) Replay(ctx context.Context, s Selector) (int, error) {
	var out struct {
		Replayed int `json:"replayed"`
	}
	err := c.do(ctx, http.MethodPost, "/api/dead-letters/replay", s, nil, &out)
	return out.Replayed, err
}

// Purge deletes the selected dead letters for good and returns how many.
func (c *Client) Purge(ctx context.Context, s Selector) (int, error) {
	var out struct {
		Purged int `json:"purged"`
	}
	err := c.do(ctx, http.MethodPost, "/api/dead-letters/purge", s, nil, &out)
	return out.Purged, err
}
