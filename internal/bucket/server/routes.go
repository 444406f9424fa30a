package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"corebridge/internal/bridge"
	"corebridge/internal/bucket"
)

// routes lists every route of the Bucket API.
func (s *Server) routes() {
	s.mux.Handle("POST /v1/records", handlePostRecords(s))
	s.mux.Handle("GET /v1/records", handleListRecords(s))
	s.mux.Handle("GET /v1/stats", handleStats(s))
	s.mux.Handle("GET /v1/reconcile", handleReconcile(s))
	s.mux.Handle("GET /v1/reconcile/chain", handleChain(s))
	s.mux.Handle("GET /healthz", handleHealthz())
}

// handlePostRecords stores a batch and answers one result per record. A bad
// record is rejected on its own; only a body that cannot be read as a
// request at all fails the batch.
func handlePostRecords(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := s.Faults()
		if s.shouldFail(f.FailRate) {
			// Read the body anyway, so the client is not cut off mid-send and
			// the connection stays usable.
			_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, s.maxBody+1))
			sleep(r.Context(), f.Latency)
			writeError(w, r, s, bridge.Errorf(bridge.EUNAVAILABLE, "bucket unavailable (fault injection)"))
			return
		}
		recs, results, err := decodeRequest(w, r, s.maxBody)
		if err != nil {
			sleep(r.Context(), f.Latency)
			writeError(w, r, s, err)
			return
		}
		// Records that passed decoding and the fault filter go to the store
		// together; idx maps them back to their place in the answer.
		put := make([]bucket.Record, 0, len(recs))
		idx := make([]int, 0, len(recs))
		for i, rec := range recs {
			if results[i].Status != "" {
				continue
			}
			if f.RejectModule != "" && rec.Module == f.RejectModule {
				results[i] = bucket.Result{ID: rec.ID, Status: bucket.StatusRejected,
					Error: fmt.Sprintf("module %s is rejected by this bucket (fault injection)", rec.Module)}
				continue
			}
			put = append(put, rec)
			idx = append(idx, i)
		}
		stored, err := s.store.putDecoded(r.Context(), put)
		if err != nil {
			sleep(r.Context(), f.Latency)
			writeError(w, r, s, err)
			return
		}
		counts := map[string]int{}
		for j, res := range stored {
			results[idx[j]] = res
		}
		for _, res := range results {
			counts[res.Status]++
		}
		s.log.Debug("records posted", "records", len(results), "stored", counts[bucket.StatusStored],
			"duplicate", counts[bucket.StatusDuplicate], "conflict", counts[bucket.StatusConflict], "rejected", counts[bucket.StatusRejected])
		sleep(r.Context(), f.Latency)
		writeJSON(w, http.StatusOK, bucket.Response{Results: results})
	})
}

// decodeRequest reads a POST /v1/records body. It returns the records and a
// results slice in which those that could not be decoded are already
// rejected; an error means the whole body is refused.
func decodeRequest(w http.ResponseWriter, r *http.Request, maxBody int64) ([]bucket.Record, []bucket.Result, error) {
	if r.ContentLength > maxBody {
		return nil, nil, bridge.Errorf(bridge.ETOOLARGE, "body is %d bytes, over the limit of %d", r.ContentLength, maxBody)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, nil, bridge.Errorf(bridge.ETOOLARGE, "body is over the limit of %d bytes", maxBody)
	} else if err != nil {
		return nil, nil, bridge.Errorf(bridge.EINVALID, "read body: %v", err)
	}
	// The usual body decodes whole, in one pass; its records' data is then
	// known to be JSON, so only its first byte needs a look.
	var whole struct {
		Records []bucket.Record `json:"records"`
	}
	if json.Unmarshal(body, &whole) == nil && whole.Records != nil {
		results := make([]bucket.Result, len(whole.Records))
		for i, rec := range whole.Records {
			if msg := validate(rec, startsObject); msg != "" {
				results[i] = bucket.Result{ID: rec.ID, Status: bucket.StatusRejected, Error: msg}
			}
		}
		return whole.Records, results, nil
	}
	// Otherwise record by record, so that one bad record is rejected alone
	// and the error names it.
	var req struct {
		Records []json.RawMessage `json:"records"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, nil, bridge.Errorf(bridge.EINVALID, "malformed request: %v", err)
	}
	if req.Records == nil {
		return nil, nil, bridge.Errorf(bridge.EINVALID, `"records" is required: {"records":[…]}`)
	}
	recs := make([]bucket.Record, len(req.Records))
	results := make([]bucket.Result, len(req.Records))
	for i, raw := range req.Records {
		// A type error leaves the fields that did decode, the id included
		// if it is a string, so the rejection can name the record.
		if err := json.Unmarshal(raw, &recs[i]); err != nil {
			results[i] = bucket.Result{ID: recs[i].ID, Status: bucket.StatusRejected, Error: "malformed record: " + err.Error()}
		} else if msg := validate(recs[i], isObject); msg != "" {
			results[i] = bucket.Result{ID: recs[i].ID, Status: bucket.StatusRejected, Error: msg}
		}
	}
	return recs, results, nil
}

// handleListRecords pages through the records in the order they were stored.
func handleListRecords(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit := DefaultListLimit
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				writeError(w, r, s, bridge.Errorf(bridge.EINVALID, "limit must be a positive integer, not %q", v))
				return
			}
			limit = min(n, MaxListLimit)
		}
		recs, err := s.store.List(r.Context(), q.Get("module"), q.Get("after"), limit)
		if err != nil {
			writeError(w, r, s, err)
			return
		}
		page := bucket.Page{Records: recs}
		if len(recs) > 0 {
			page.NextAfter = recs[len(recs)-1].ID
		}
		writeJSON(w, http.StatusOK, page)
	})
}

func handleStats(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := s.store.Stats(r.Context())
		if err != nil {
			writeError(w, r, s, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
}

func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}
