// Package mock stands in for the Core modules: it generates realistic
// updates for education, finance, creative and robotics, sends a few of
// them every interval (Rounds), and drives the bridge as hard as it can to
// measure it (Load). Both speak to the bridge only through the public
// client package, as a real producer would.
package mock

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// DefaultModules returns the four Core modules of the prototype.
func DefaultModules() []string {
	return []string{"education", "finance", "creative", "robotics"}
}

// Generator makes the data of updates: JSON objects of about 200 bytes
// whose values vary from one call to the next. The same seed gives the
// same values (the timestamp aside). A Generator is not safe for
// concurrent use; give each goroutine its own.
type Generator struct {
	rnd *rand.Rand
	now func() time.Time
	seq int64
}

// NewGenerator returns a Generator seeded with seed whose records carry the
// time now returns; nil means time.Now.
func NewGenerator(seed uint64, now func() time.Time) *Generator {
	if now == nil {
		now = time.Now
	}
	return &Generator{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: now}
}

// Data returns a compact JSON object for module. Modules other than the
// four known ones get a generic telemetry object.
func (g *Generator) Data(module string) json.RawMessage {
	g.seq++
	at := g.now().UTC().Format("2006-01-02T15:04:05.000Z")
	var v any
	switch module {
	case "education":
		v = g.education(at)
	case "finance":
		v = g.finance(at)
	case "creative":
		v = g.creative(at)
	case "robotics":
		v = g.robotics(at)
	default:
		v = g.generic(module, at)
	}
	b, err := json.Marshal(v)
	if err != nil { // cannot happen: plain structs of strings and numbers
		panic(fmt.Sprintf("mock: encode %s data: %v", module, err))
	}
	return b
}

type educationData struct {
	StudentID  string  `json:"student_id"`
	Course     string  `json:"course"`
	Lesson     int     `json:"lesson"`
	Activity   string  `json:"activity"`
	Score      float64 `json:"score"`
	Progress   float64 `json:"progress"`
	TimeSpentS int     `json:"time_spent_s"`
	Attempts   int     `json:"attempts"`
	Completed  bool    `json:"completed"`
	RecordedAt string  `json:"recorded_at"`
}

func (g *Generator) education(at string) educationData {
	progress := round2(g.rnd.Float64())
	return educationData{
		StudentID:  fmt.Sprintf("stu-%05d", g.rnd.IntN(100000)),
		Course:     pick(g.rnd, "Linear Algebra", "Intro to Python", "World History", "Organic Chemistry", "Creative Writing", "Statistics I"),
		Lesson:     1 + g.rnd.IntN(24),
		Activity:   pick(g.rnd, "quiz", "video", "reading", "assignment", "lab"),
		Score:      round2(40 + 60*g.rnd.Float64()),
		Progress:   progress,
		TimeSpentS: 60 + g.rnd.IntN(3600),
		Attempts:   1 + g.rnd.IntN(4),
		Completed:  progress > 0.95,
		RecordedAt: at,
	}
}

type financeData struct {
	Account       string  `json:"account"`
	TransactionID string  `json:"transaction_id"`
	Amount        float64 `json:"amount"`
	Currency      string  `json:"currency"`
	Category      string  `json:"category"`
	Merchant      string  `json:"merchant"`
	Direction     string  `json:"direction"`
	BalanceAfter  float64 `json:"balance_after"`
	RecordedAt    string  `json:"recorded_at"`
}

func (g *Generator) finance(at string) financeData {
	return financeData{
		Account:       fmt.Sprintf("ACC-%08d", g.rnd.IntN(100000000)),
		TransactionID: fmt.Sprintf("txn-%08x", g.rnd.Uint32()),
		// Log-normal amounts: mostly small purchases, now and then a large one.
		Amount:       round2(math.Exp(3 + 1.2*g.rnd.NormFloat64())),
		Currency:     pick(g.rnd, "EUR", "USD", "GBP", "CHF", "JPY"),
		Category:     pick(g.rnd, "groceries", "rent", "salary", "utilities", "travel", "equipment", "subscriptions"),
		Merchant:     pick(g.rnd, "Corner Market", "City Power", "Rail Europe", "Acme Supplies", "Cloud Hosting Ltd", "Payroll"),
		Direction:    pick(g.rnd, "debit", "debit", "debit", "credit"),
		BalanceAfter: round2(20000 * g.rnd.Float64()),
		RecordedAt:   at,
	}
}

type creativeData struct {
	Project    string   `json:"project"`
	AssetType  string   `json:"asset_type"`
	AssetID    string   `json:"asset_id"`
	DurationS  float64  `json:"duration_s"`
	Resolution string   `json:"resolution"`
	Tags       []string `json:"tags"`
	Author     string   `json:"author"`
	Version    int      `json:"version"`
	RecordedAt string   `json:"recorded_at"`
}

func (g *Generator) creative(at string) creativeData {
	asset := pick(g.rnd, "video", "audio", "image", "animation")
	duration := 0.0
	if asset != "image" {
		duration = round2(5 + 600*g.rnd.Float64())
	}
	tags := []string{"draft", "final", "night", "ocean", "portrait", "loop", "b-roll", "mix"}
	g.rnd.Shuffle(len(tags), func(i, j int) { tags[i], tags[j] = tags[j], tags[i] })
	return creativeData{
		Project:    pick(g.rnd, "Harbor Lights", "Summer Campaign", "Podcast S2", "Museum Tour", "Launch Teaser"),
		AssetType:  asset,
		AssetID:    fmt.Sprintf("ast-%06x", g.rnd.Uint32()&0xffffff),
		DurationS:  duration,
		Resolution: pick(g.rnd, "1920x1080", "3840x2160", "1080x1920", "1280x720"),
		Tags:       tags[:1+g.rnd.IntN(3)],
		Author:     pick(g.rnd, "m.rivera", "a.chen", "k.okafor", "l.novak", "s.iyer"),
		Version:    1 + g.rnd.IntN(9),
		RecordedAt: at,
	}
}

type position struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

type roboticsData struct {
	RobotID    string   `json:"robot_id"`
	BatteryPct float64  `json:"battery_pct"`
	Position   position `json:"position"`
	HeadingDeg float64  `json:"heading_deg"`
	SpeedMps   float64  `json:"speed_mps"`
	Task       string   `json:"task"`
	Status     string   `json:"status"`
	PayloadKg  float64  `json:"payload_kg"`
	RecordedAt string   `json:"recorded_at"`
}

func (g *Generator) robotics(at string) roboticsData {
	return roboticsData{
		RobotID:    fmt.Sprintf("rb-%02d", 1+g.rnd.IntN(24)),
		BatteryPct: round2(5 + 95*g.rnd.Float64()),
		Position:   position{X: round2(-50 + 100*g.rnd.Float64()), Y: round2(-50 + 100*g.rnd.Float64())},
		HeadingDeg: round2(360 * g.rnd.Float64()),
		SpeedMps:   round2(1.5 * g.rnd.Float64()),
		Task:       pick(g.rnd, "pick", "place", "inspect", "charge", "patrol", "deliver"),
		Status:     pick(g.rnd, "active", "active", "active", "idle", "charging", "error"),
		PayloadKg:  round2(12 * g.rnd.Float64()),
		RecordedAt: at,
	}
}

type genericData struct {
	Source     string  `json:"source"`
	Sequence   int64   `json:"sequence"`
	Metric     string  `json:"metric"`
	Value      float64 `json:"value"`
	Unit       string  `json:"unit"`
	Note       string  `json:"note"`
	RecordedAt string  `json:"recorded_at"`
}

func (g *Generator) generic(module, at string) genericData {
	return genericData{
		Source:     module,
		Sequence:   g.seq,
		Metric:     pick(g.rnd, "temperature", "throughput", "queue_depth", "error_rate"),
		Value:      round2(1000 * g.rnd.Float64()),
		Unit:       pick(g.rnd, "celsius", "per_second", "items", "ratio"),
		Note:       pick(g.rnd, "scheduled sample", "threshold check", "operator request"),
		RecordedAt: at,
	}
}

func pick(r *rand.Rand, choices ...string) string { return choices[r.IntN(len(choices))] }

func round2(x float64) float64 { return math.Round(x*100) / 100 }
