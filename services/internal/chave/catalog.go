package chave

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
)

//go:embed contexts.json
var defaultCatalogJSON []byte

// Reserved scopes: not catalog contexts, never entitled, never implied by
// general access; granted only by listing them among a token's contexts.
const (
	// ScopeRegistryAdmin lets a credential manage its own tenant's tokens.
	ScopeRegistryAdmin = "registry.admin"
	// ScopeTokenIntrospect lets a credential introspect its tenant's tokens.
	ScopeTokenIntrospect = "token.introspect"
)

// IsReservedScope reports whether s is a reserved, non-catalog scope.
func IsReservedScope(s string) bool {
	return s == ScopeRegistryAdmin || s == ScopeTokenIntrospect
}

// ParameterSpec describes one parameter of a context.
type ParameterSpec struct {
	Name          string   `json:"name"`
	Description   string   `json:"description,omitempty"`
	Secret        bool     `json:"secret,omitempty"`
	Required      bool     `json:"required,omitempty"`
	AllowedValues []string `json:"allowedValues,omitempty"`
	// Pattern, when set, is a regular expression the whole value must match.
	Pattern string `json:"pattern,omitempty"`

	pattern *regexp.Regexp
}

// Context is a catalog entry: a scope a token may reach.
type Context struct {
	ID           string            `json:"id"`
	DisplayNames map[string]string `json:"displayNames"` // by language tag: pt-BR, en
	Parameters   []ParameterSpec   `json:"parameters,omitempty"`
}

// DisplayName returns the name in the language, falling back to pt-BR.
func (c Context) DisplayName(lang string) string {
	if n, ok := c.DisplayNames[lang]; ok {
		return n
	}
	return c.DisplayNames["pt-BR"]
}

// Parameter returns the context's parameter by name.
func (c Context) Parameter(name string) (ParameterSpec, bool) {
	for _, p := range c.Parameters {
		if p.Name == name {
			return p, true
		}
	}
	return ParameterSpec{}, false
}

// Catalog is the ordered, immutable list of contexts.
type Catalog struct {
	contexts []Context
	byID     map[string]int
}

var contextIDPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// DefaultCatalog returns the catalog shipped with chave: the eleven contexts
// of the product documents.
func DefaultCatalog() *Catalog {
	c, err := ParseCatalog(defaultCatalogJSON)
	if err != nil {
		panic(fmt.Sprintf("chave: the embedded context catalog is invalid: %v", err))
	}
	return c
}

// ParseCatalog reads a catalog file: {"contexts": [...]}. Unknown fields,
// duplicate ids, reserved ids and bad patterns are errors.
func ParseCatalog(data []byte) (*Catalog, error) {
	var doc struct {
		Contexts []Context `json:"contexts"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("parse catalog: %w", err)
	}
	if len(doc.Contexts) == 0 {
		return nil, fmt.Errorf("parse catalog: no contexts")
	}
	c := &Catalog{byID: make(map[string]int, len(doc.Contexts))}
	for i, ctx := range doc.Contexts {
		if !contextIDPattern.MatchString(ctx.ID) {
			return nil, fmt.Errorf("parse catalog: context %d: bad id %q", i, ctx.ID)
		}
		if _, dup := c.byID[ctx.ID]; dup {
			return nil, fmt.Errorf("parse catalog: duplicate context %q", ctx.ID)
		}
		if ctx.DisplayNames["pt-BR"] == "" {
			return nil, fmt.Errorf("parse catalog: context %q: no pt-BR display name", ctx.ID)
		}
		names := map[string]bool{}
		for j := range ctx.Parameters {
			p := &ctx.Parameters[j]
			if p.Name == "" || names[p.Name] {
				return nil, fmt.Errorf("parse catalog: context %q: missing or duplicate parameter name %q", ctx.ID, p.Name)
			}
			names[p.Name] = true
			if p.Pattern != "" {
				re, err := regexp.Compile(`^(?:` + p.Pattern + `)$`)
				if err != nil {
					return nil, fmt.Errorf("parse catalog: context %q parameter %q: %w", ctx.ID, p.Name, err)
				}
				p.pattern = re
			}
		}
		c.byID[ctx.ID] = len(c.contexts)
		c.contexts = append(c.contexts, ctx)
	}
	return c, nil
}

// Lookup returns the context by id.
func (c *Catalog) Lookup(id string) (Context, bool) {
	i, ok := c.byID[id]
	if !ok {
		return Context{}, false
	}
	return c.contexts[i], true
}

// Contexts returns every context in catalog order.
func (c *Catalog) Contexts() []Context { return slices.Clone(c.contexts) }

// ValidateValue checks a parameter value against the spec. field names the
// value in errors, e.g. "parameters.telegram.botToken". The error never
// echoes a secret value.
func (p ParameterSpec) ValidateValue(field, value string) error {
	if value == "" {
		return InvalidField(field, "must not be empty")
	}
	if len(p.AllowedValues) > 0 && !slices.Contains(p.AllowedValues, value) {
		return InvalidField(field, "%q is not one of %v", value, p.AllowedValues)
	}
	if p.pattern != nil && !p.pattern.MatchString(value) {
		if p.Secret {
			return InvalidField(field, "is malformed")
		}
		return InvalidField(field, "%q is malformed", value)
	}
	return nil
}
