package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
)

// outputFlags is -o: table (for people), json (the API's JSON unchanged),
// jsonpath=TEMPLATE or name (one value per line, for scripts).
type outputFlags struct {
	format string
}

const outputHelp = "output: table, json (the API's JSON unchanged), name (one id per line) or jsonpath=TEMPLATE (e.g. jsonpath={.tokens[*].id})"

func (a *app) addOutputFlag(fs *pflag.FlagSet) {
	fs.StringVarP(&a.out.format, "output", "o", "table", outputHelp)
}

type outputMode int

const (
	modeTable outputMode = iota
	modeJSON
	modeName
	modeJSONPath
)

// mode checks -o before any request is made.
func (o outputFlags) mode() (outputMode, *jsonPath, error) {
	switch f := o.format; {
	case f == "" || f == "table":
		return modeTable, nil, nil
	case f == "json":
		return modeJSON, nil, nil
	case f == "name":
		return modeName, nil, nil
	case strings.HasPrefix(f, "jsonpath="):
		jp, err := parseJSONPath(strings.TrimPrefix(f, "jsonpath="))
		if err != nil {
			return 0, nil, Usagef("--output: %v", err)
		}
		return modeJSONPath, jp, nil
	}
	return 0, nil, Usagef("--output: want table, json, name or jsonpath=TEMPLATE, got %q", o.format)
}

// result is what a command prints: the API's JSON, the ids for -o name,
// and the table for people.
type result struct {
	raw   []byte
	names []string
	table func(w io.Writer, s *style) error
}

// print writes r in the chosen output mode.
func (a *app) print(r result) error {
	mode, jp, err := a.out.mode()
	if err != nil {
		return err
	}
	w := a.env.Stdout
	switch mode {
	case modeJSON:
		var buf bytes.Buffer
		if err := json.Indent(&buf, r.raw, "", "  "); err != nil {
			_, err = w.Write(r.raw) // not JSON after all: as it came
			return err
		}
		buf.WriteByte('\n')
		_, err := w.Write(buf.Bytes())
		return err
	case modeName:
		for _, n := range r.names {
			if _, err := fmt.Fprintln(w, n); err != nil {
				return err
			}
		}
		return nil
	case modeJSONPath:
		var v any
		dec := json.NewDecoder(bytes.NewReader(r.raw))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("the answer is not JSON: %w", err)
		}
		return jp.execute(w, v)
	}
	return r.table(w, a.style())
}

// style is how a table looks: colour only on a terminal without NO_COLOR,
// times and states in the user's language.
type style struct {
	color bool
	lang  lang
	now   time.Time
	loc   *time.Location // of absolute times
}

func (a *app) style() *style {
	_, noColor := a.env.LookupEnv("NO_COLOR")
	now := time.Now()
	if a.env.Now != nil {
		now = a.env.Now()
	}
	return &style{
		color: a.env.StdoutIsTerminal && !noColor && a.env.getenv("TERM") != "dumb",
		lang:  a.lang,
		now:   now,
		loc:   a.location(),
	}
}

// table is an aligned table; dimmed rows (revoked, expired) are grey on a
// colour terminal.
type table struct {
	s    *style
	tw   *tabwriter.Writer
	cols int
}

const (
	dim   = "\x1b[2m"
	reset = "\x1b[0m" // as long as dim, so that every row's first cell grows alike
)

func newTable(w io.Writer, s *style, header ...string) *table {
	t := &table{s: s, tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0), cols: len(header)}
	t.row(false, header...)
	return t
}

func (t *table) row(dimmed bool, cells ...string) {
	line := strings.Join(cells, "\t")
	if t.s.color {
		if dimmed {
			line = dim + line + reset
		} else {
			line = reset + line
		}
	}
	fmt.Fprintln(t.tw, line)
}

func (t *table) flush() error { return t.tw.Flush() }

// fields prints label/value pairs, aligned: one resource.
func fields(w io.Writer, pairs ...string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(tw, "%s:\t%s\n", pairs[i], pairs[i+1])
	}
	return tw.Flush()
}

// lang is the language of tables: pt-BR unless LC_ALL, LC_MESSAGES or LANG
// asks for English.
type lang int

const (
	ptBR lang = iota
	english
)

func langFrom(env *Env) lang {
	for _, name := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if v := env.getenv(name); v != "" {
			if strings.HasPrefix(strings.ToLower(v), "en") {
				return english
			}
			return ptBR
		}
	}
	return ptBR
}

func (l lang) tag() string {
	if l == english {
		return "en"
	}
	return "pt-BR"
}

// t picks the text in the language.
func (l lang) t(pt, en string) string {
	if l == english {
		return en
	}
	return pt
}

// ago says when t is relative to now: "há 2 horas", "em 3 dias", "nunca"
// for the zero time (English: "2 hours ago", "in 3 days", "never").
func (s *style) ago(t time.Time) string {
	if t.IsZero() {
		return s.lang.t("nunca", "never")
	}
	d := t.Sub(s.now)
	future := d > 0
	if !future {
		d = -d
	}
	if d < time.Minute {
		return s.lang.t("agora", "just now")
	}
	n, unit := humanDuration(d, s.lang)
	switch {
	case future && s.lang == english:
		return "in " + n + " " + unit
	case future:
		return "em " + n + " " + unit
	case s.lang == english:
		return n + " " + unit + " ago"
	}
	return "há " + n + " " + unit
}

// humanDuration says d in its largest unit, rounded to the nearest: a
// token created to expire in 90 days expires "em 3 meses", not in 2.
func humanDuration(d time.Duration, l lang) (string, string) {
	const day = 24 * time.Hour
	units := []struct {
		size                     time.Duration
		ptOne, ptMany, enOne, en string
	}{
		{365 * day, "ano", "anos", "year", "years"},
		{30 * day, "mês", "meses", "month", "months"},
		{day, "dia", "dias", "day", "days"},
		{time.Hour, "hora", "horas", "hour", "hours"},
		{time.Minute, "minuto", "minutos", "minute", "minutes"},
	}
	for _, u := range units {
		if d >= u.size {
			n := int((d + u.size/2) / u.size)
			name := l.t(u.ptMany, u.en)
			if n == 1 {
				name = l.t(u.ptOne, u.enOne)
			}
			return strconv.Itoa(n), name
		}
	}
	return "0", l.t("minutos", "minutes")
}

// jsonPath is the small subset of kubectl's JSONPath that scripts need:
// literal text and {expressions}, an expression being a path of .field,
// [N] and [*] steps ({.tokens[*].id}, {.token.state}); "{.}" is the whole
// answer. A step over a list yields every element: each value is printed
// on a line of its own.
type jsonPath struct {
	parts []jsonPathPart
}

type jsonPathPart struct {
	literal string
	steps   []step // nil for a literal
	isExpr  bool
}

type step struct {
	field string
	index int // -1: every element ([*]); -2: a field step
}

func parseJSONPath(tmpl string) (*jsonPath, error) {
	if tmpl == "" {
		return nil, fmt.Errorf("jsonpath: empty template")
	}
	jp := &jsonPath{}
	for tmpl != "" {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			jp.parts = append(jp.parts, jsonPathPart{literal: tmpl})
			break
		}
		if i > 0 {
			jp.parts = append(jp.parts, jsonPathPart{literal: tmpl[:i]})
		}
		j := strings.IndexByte(tmpl[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("jsonpath: unclosed { in %q", tmpl)
		}
		expr := strings.TrimSpace(tmpl[i+1 : i+j])
		tmpl = tmpl[i+j+1:]
		if s, err := strconv.Unquote(expr); err == nil && strings.HasPrefix(expr, `"`) {
			jp.parts = append(jp.parts, jsonPathPart{literal: s}) // {"\t"}
			continue
		}
		steps, err := parseSteps(expr)
		if err != nil {
			return nil, err
		}
		jp.parts = append(jp.parts, jsonPathPart{steps: steps, isExpr: true})
	}
	return jp, nil
}

func parseSteps(expr string) ([]step, error) {
	orig := expr
	if expr == "." || expr == "$" {
		return []step{}, nil
	}
	expr = strings.TrimPrefix(expr, "$")
	if !strings.HasPrefix(expr, ".") && !strings.HasPrefix(expr, "[") {
		return nil, fmt.Errorf("jsonpath: %q: an expression starts with . (e.g. {.id})", orig)
	}
	var steps []step
	for expr != "" {
		switch expr[0] {
		case '.':
			expr = expr[1:]
			end := strings.IndexAny(expr, ".[")
			if end < 0 {
				end = len(expr)
			}
			if end == 0 {
				return nil, fmt.Errorf("jsonpath: %q: empty field name", orig)
			}
			steps = append(steps, step{field: expr[:end], index: -2})
			expr = expr[end:]
		case '[':
			end := strings.IndexByte(expr, ']')
			if end < 0 {
				return nil, fmt.Errorf("jsonpath: %q: unclosed [", orig)
			}
			in := expr[1:end]
			expr = expr[end+1:]
			if in == "*" {
				steps = append(steps, step{index: -1})
				continue
			}
			n, err := strconv.Atoi(in)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("jsonpath: %q: want [*] or [N], got [%s]", orig, in)
			}
			steps = append(steps, step{index: n})
		default:
			return nil, fmt.Errorf("jsonpath: %q: unexpected %q", orig, expr[:1])
		}
	}
	return steps, nil
}

// eval walks the steps from v; a missing field yields nothing.
func eval(v any, steps []step) []any {
	vals := []any{v}
	for _, s := range steps {
		var next []any
		for _, cur := range vals {
			switch {
			case s.index == -2:
				if m, ok := cur.(map[string]any); ok {
					if x, ok := m[s.field]; ok {
						next = append(next, x)
					}
				}
			case s.index == -1:
				switch c := cur.(type) {
				case []any:
					next = append(next, c...)
				case map[string]any:
					for _, x := range c {
						next = append(next, x)
					}
				}
			default:
				if l, ok := cur.([]any); ok && s.index < len(l) {
					next = append(next, l[s.index])
				}
			}
		}
		vals = next
	}
	return vals
}

func (jp *jsonPath) execute(w io.Writer, v any) error {
	var b strings.Builder
	for _, p := range jp.parts {
		if !p.isExpr {
			b.WriteString(p.literal)
			continue
		}
		for i, x := range eval(v, p.steps) {
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(scalar(x))
		}
	}
	out := b.String()
	if !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	_, err := io.WriteString(w, out)
	return err
}

// scalar prints a JSON value: strings bare, anything else as JSON.
func scalar(x any) string {
	switch v := x.(type) {
	case string:
		return v
	case nil:
		return ""
	}
	data, _ := json.Marshal(x)
	return string(data)
}
