// Package auth is who may do what: principals (tokens with a name, a role
// and, for producers, their modules), the token file that holds only a
// hash of each secret, and what each kind of route needs.
package auth

import (
	"context"
	"fmt"
	"slices"
)

// Role is what a principal may do.
type Role string

// Roles, from least to most.
const (
	RoleProducer Role = "producer" // send updates, only for its modules
	RoleViewer   Role = "viewer"   // read: dashboard, /api GETs, /metrics, health, status
	RoleOperator Role = "operator" // viewer + replay, purge and edit of dead letters
	RoleAdmin    Role = "admin"    // everything
)

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleProducer, RoleViewer, RoleOperator, RoleAdmin:
		return r, nil
	}
	return "", fmt.Errorf("role %q: want producer, viewer, operator or admin", s)
}

// Access is what a route needs.
type Access int

// Accesses, from none to all.
const (
	AccessOpen    Access = iota // anyone, authenticated or not
	AccessProduce               // a producer (of the update's module) or an admin
	AccessView                  // a viewer, operator or admin
	AccessOperate               // an operator or admin
	AccessAdmin                 // an admin
)

func (a Access) String() string {
	switch a {
	case AccessOpen:
		return "open"
	case AccessProduce:
		return "producer"
	case AccessView:
		return "viewer"
	case AccessOperate:
		return "operator"
	case AccessAdmin:
		return "admin"
	}
	return fmt.Sprintf("Access(%d)", int(a))
}

// Principal is who sent a request.
type Principal struct {
	Name    string
	Role    Role
	Modules []string // for a producer: the modules it may send; "*" = any

	signing *signing // keys its requests are signed with, if any (signing.go)
}

// Anonymous is every request's principal when serve runs without an auth
// file, which it does only on a loopback address: it may do everything.
var Anonymous = &Principal{Name: "anonymous", Role: RoleAdmin, Modules: []string{"*"}}

// Allows says whether p may use a route that needs a.
func (p *Principal) Allows(a Access) bool {
	if a == AccessOpen {
		return true
	}
	if p == nil {
		return false
	}
	switch p.Role {
	case RoleAdmin:
		return true
	case RoleOperator:
		return a == AccessView || a == AccessOperate
	case RoleViewer:
		return a == AccessView
	case RoleProducer:
		return a == AccessProduce
	}
	return false
}

// MayProduce says whether p may send updates of module.
func (p *Principal) MayProduce(module string) bool {
	if p == nil {
		return false
	}
	if p.Role == RoleAdmin {
		return true
	}
	return p.Role == RoleProducer && (slices.Contains(p.Modules, "*") || slices.Contains(p.Modules, module))
}

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal ctx carries, or nil.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
