package bucket

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// ErrReconcileUnsupported is the error of Reconcile and ReconcileChain
// against a Bucket without the reconciliation extension: it answered
// GET /v1/reconcile with 404 or 405.
var ErrReconcileUnsupported = errors.New("this Bucket does not support reconciliation")

// UnsupportedError is the error wrapping ErrReconcileUnsupported: which
// request got which answer.
type UnsupportedError struct {
	Path   string // "/v1/reconcile" or "/v1/reconcile/chain"
	Status int    // 404 or 405
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("this Bucket does not support reconciliation (GET %s answered %d)", e.Path, e.Status)
}

// Is makes the error match ErrReconcileUnsupported.
func (e *UnsupportedError) Is(target error) bool { return target == ErrReconcileUnsupported }

// Reconcile asks the Bucket what it holds of q.Module in [q.From, q.To)
// (GET /v1/reconcile), with the credentials delivery uses. A Bucket without
// the extension gives an error matching ErrReconcileUnsupported; an answer
// that does not hold together (parts that do not cover the range exactly,
// records out of the range or out of order, hashes or fingerprints that
// are not 64 hex digits) one wrapping ErrBadResponse.
func (c *Client) Reconcile(ctx context.Context, q ReconcileQuery) (ReconcileAnswer, error) {
	v := url.Values{}
	v.Set("module", q.Module)
	if q.From != "" {
		v.Set("from", q.From)
	}
	if q.To != "" {
		v.Set("to", q.To)
	}
	if q.Parts > 0 {
		v.Set("parts", strconv.Itoa(q.Parts))
	}
	if q.List > 0 {
		v.Set("list", strconv.Itoa(q.List))
	}
	var a ReconcileAnswer
	if err := c.reconcileGet(ctx, "/v1/reconcile", v, &a); err != nil {
		return ReconcileAnswer{}, err
	}
	if err := CheckAnswer(q, a); err != nil {
		return ReconcileAnswer{}, fmt.Errorf("%w: GET /v1/reconcile: %v", ErrBadResponse, err)
	}
	return a, nil
}

// ReconcileChain asks the Bucket for the gaps in module's chain
// (GET /v1/reconcile/chain), listing at most limit of them (0: the
// Bucket's default).
func (c *Client) ReconcileChain(ctx context.Context, module string, limit int) (ChainReport, error) {
	v := url.Values{}
	v.Set("module", module)
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	var r ChainReport
	if err := c.reconcileGet(ctx, "/v1/reconcile/chain", v, &r); err != nil {
		return ChainReport{}, err
	}
	if r.Records < 0 || r.Chained < 0 || r.Gaps < 0 || int64(len(r.First)) > r.Gaps {
		return ChainReport{}, fmt.Errorf("%w: GET /v1/reconcile/chain: counts do not hold together (records %d, chained %d, gaps %d, %d listed)",
			ErrBadResponse, r.Records, r.Chained, r.Gaps, len(r.First))
	}
	for _, g := range r.First {
		if _, err := ParseHash(g.PrevHash); err != nil || g.ID == "" {
			return ChainReport{}, fmt.Errorf("%w: GET /v1/reconcile/chain: gap %q: prev_hash %q is not 64 hex digits", ErrBadResponse, g.ID, g.PrevHash)
		}
	}
	return r, nil
}

func (c *Client) reconcileGet(ctx context.Context, path string, q url.Values, out any) error {
	err := c.do(ctx, http.MethodGet, path+"?"+q.Encode(), nil, out)
	var se *StatusError
	if errors.As(err, &se) && (se.StatusCode == http.StatusNotFound || se.StatusCode == http.StatusMethodNotAllowed) {
		return &UnsupportedError{Path: path, Status: se.StatusCode}
	}
	return err
}

// CheckAnswer says what is wrong with a, the answer to q, if anything:
// the range must be q's; listed records must be in the range, in strictly
// increasing id order, as many as Count, with parseable hashes; parts must
// cover the range exactly, with counts that add up to Count, at most
// ReconcileMaxParts of them; fingerprints must be 64 hex digits.
func CheckAnswer(q ReconcileQuery, a ReconcileAnswer) error {
	if a.From != q.From || a.To != q.To {
		return fmt.Errorf("answered range [%q, %q) for the asked [%q, %q)", a.From, a.To, q.From, q.To)
	}
	if a.Module != "" && a.Module != q.Module {
		return fmt.Errorf("answered module %q for %q", a.Module, q.Module)
	}
	if a.Count < 0 {
		return fmt.Errorf("negative count %d", a.Count)
	}
	if _, err := ParseHash(a.Fingerprint); err != nil || a.Fingerprint == "" {
		return fmt.Errorf("fingerprint %q: not 64 hex digits", a.Fingerprint)
	}
	if len(a.Parts) > 0 && len(a.Records) > 0 {
		return errors.New("both parts and records")
	}
	if len(a.Parts) == 0 {
		if int64(len(a.Records)) != a.Count {
			return fmt.Errorf("%d records listed for a count of %d", len(a.Records), a.Count)
		}
		var fp Fingerprint
		for i, r := range a.Records {
			if r.ID == "" || !inRange(r.ID, q.From, q.To) {
				return fmt.Errorf("record %q is outside the range", r.ID)
			}
			if i > 0 && r.ID <= a.Records[i-1].ID {
				return fmt.Errorf("record %q is not after %q", r.ID, a.Records[i-1].ID)
			}
			h, err := ParseHash(r.Hash)
			if err != nil {
				return fmt.Errorf("record %q: hash %q: %v", r.ID, r.Hash, err)
			}
			fp.Add(RecordDigest(r.ID, h))
		}
		if fp.String() != lower(a.Fingerprint) {
			return fmt.Errorf("the listed records' fingerprint is %s, the answer says %s", fp, a.Fingerprint)
		}
		return nil
	}
	if len(a.Parts) > ReconcileMaxParts {
		return fmt.Errorf("%d parts, more than %d", len(a.Parts), ReconcileMaxParts)
	}
	var sum int64
	var fp Fingerprint
	for i, p := range a.Parts {
		if i == 0 && p.From != q.From {
			return fmt.Errorf("the first part starts at %q, not at the range's start %q", p.From, q.From)
		}
		if i > 0 && p.From != a.Parts[i-1].To {
			return fmt.Errorf("part %d starts at %q, not where part %d ends (%q)", i, p.From, i-1, a.Parts[i-1].To)
		}
		if i == len(a.Parts)-1 && p.To != q.To {
			return fmt.Errorf("the last part ends at %q, not at the range's end %q", p.To, q.To)
		}
		if p.To != "" && p.From > p.To || p.To == "" && i != len(a.Parts)-1 {
			return fmt.Errorf("part %d [%q, %q) is reversed", i, p.From, p.To)
		}
		if p.Count < 0 {
			return fmt.Errorf("part %d has a negative count", i)
		}
		h, err := ParseHash(p.Fingerprint)
		if err != nil || p.Fingerprint == "" {
			return fmt.Errorf("part %d: fingerprint %q: not 64 hex digits", i, p.Fingerprint)
		}
		fp.Add(h)
		sum += p.Count
	}
	if sum != a.Count {
		return fmt.Errorf("the parts' counts add up to %d, the range's is %d", sum, a.Count)
	}
	if fp.String() != lower(a.Fingerprint) {
		return fmt.Errorf("the parts' fingerprints do not add up to the range's")
	}
	return nil
}

// inRange says whether from <= id < to ("" unbounded).
func inRange(id, from, to string) bool {
	return id >= from && (to == "" || id < to)
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'F' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
