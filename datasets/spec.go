package datasets

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// RoleIgnore marks a CSV column the importer drops (e.g. a value only known
// after the outcome, which would leak it into training).
const RoleIgnore Role = "ignore"

// Spec says how an outside CSV becomes a logged-decisions table: which column
// plays which role, how labels map to numbers, and how the file is quoted.
// It is written in YAML; see datasets/specs for examples.
type Spec struct {
	// Name identifies the data set; stored as engage.spec in the output.
	Name string `yaml:"name"`
	// Description is free text: provenance, caveats, how to split.
	Description string `yaml:"description"`
	// Delimiter is the field separator, one character (default ",").
	Delimiter string `yaml:"delimiter"`
	// Quote is `"` for RFC 4180 quoting (the default) or "none" to split on the
	// delimiter with no quote handling.
	Quote string `yaml:"quote"`
	// TrimSpace trims blanks around every cell.
	TrimSpace bool `yaml:"trim_space"`
	// Unlisted says what to do with CSV columns the spec does not name:
	// "error" (default, so no column slips into training unreviewed) or "ignore".
	Unlisted string `yaml:"unlisted"`
	// RowNumber, when set, adds a numeric id column of that name holding the
	// 0-based data row position, so files ordered by time keep their order
	// for time-based splits.
	RowNumber string `yaml:"row_number"`
	// Columns lists the columns; the output keeps this order.
	Columns []ColumnSpec `yaml:"columns"`

	raw []byte
}

// ColumnSpec is one column of a Spec.
type ColumnSpec struct {
	// Name is the CSV header name (or, for a constant, the output name).
	Name string `yaml:"name"`
	// As renames the column in the output.
	As string `yaml:"as"`
	// Role is id, time, context, action, propensity, outcome or ignore.
	Role Role `yaml:"role"`
	// Kind is numeric, categorical or time; inferred when empty (numeric if
	// every non-missing value parses as a number).
	Kind Kind `yaml:"kind"`
	// Map turns labels into numbers (y: {yes: 1, no: 0}); any other value
	// is an error.
	Map map[string]float64 `yaml:"map"`
	// Levels fixes the allowed values and their order for a categorical.
	Levels []string `yaml:"levels"`
	// Constant makes a numeric column with this value on every row, not read
	// from the CSV (e.g. a known randomisation propensity).
	Constant *float64 `yaml:"constant"`
	// Missing lists cell values that mean "missing" (NaN, "" or MissingTime).
	// Default: the empty cell, for context and action columns only.
	Missing []string `yaml:"missing"`
	// Format is the time layout of a time column: rfc3339 (default), date
	// (2006-01-02), unix, unix_ms, or a Go layout.
	Format string `yaml:"format"`
}

// OutName returns the column's name in the output table.
func (c *ColumnSpec) OutName() string {
	if c.As != "" {
		return c.As
	}
	return c.Name
}

// LoadSpec reads and checks a YAML spec file.
func LoadSpec(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load spec: %w", err)
	}
	s, err := ParseSpec(b)
	if err != nil {
		return nil, fmt.Errorf("spec %s: %w", path, err)
	}
	return s, nil
}

// ParseSpec parses and checks a YAML spec. Unknown keys are errors, so a typo
// cannot silently drop a setting.
func ParseSpec(b []byte) (*Spec, error) {
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("parse spec: %w", err)
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	s.raw = b
	return &s, nil
}

// comma returns the delimiter rune.
func (s *Spec) comma() rune {
	if s.Delimiter == "" {
		return ','
	}
	r, _ := utf8.DecodeRuneInString(s.Delimiter)
	return r
}

func (s *Spec) quoted() bool { return s.Quote != "none" }

func (s *Spec) check() error {
	if s.Delimiter != "" {
		if s.Delimiter == `\t` {
			s.Delimiter = "\t"
		}
		r, n := utf8.DecodeRuneInString(s.Delimiter)
		if n != len(s.Delimiter) || r == utf8.RuneError || r == '\n' || r == '\r' || r == '"' {
			return fmt.Errorf("delimiter %q: want one character other than quote or newline", s.Delimiter)
		}
	}
	switch s.Quote {
	case "", `"`:
		s.Quote = `"`
	case "none":
	default:
		return fmt.Errorf(`quote %q: want '"' or none`, s.Quote)
	}
	switch s.Unlisted {
	case "":
		s.Unlisted = "error"
	case "error", "ignore":
	default:
		return fmt.Errorf("unlisted %q: want error or ignore", s.Unlisted)
	}
	if len(s.Columns) == 0 {
		return errors.New("spec lists no columns")
	}
	outs := map[string]bool{}
	ins := map[string]bool{}
	if s.RowNumber != "" {
		outs[s.RowNumber] = true
	}
	kept := 0
	for i := range s.Columns {
		c := &s.Columns[i]
		if err := c.check(); err != nil {
			return fmt.Errorf("column %d (%s): %w", i+1, c.Name, err)
		}
		if c.Constant == nil {
			if ins[c.Name] {
				return fmt.Errorf("column %s: listed twice", c.Name)
			}
			ins[c.Name] = true
		}
		if c.Role == RoleIgnore {
			continue
		}
		kept++
		if outs[c.OutName()] {
			return fmt.Errorf("column %s: output name %s used twice", c.Name, c.OutName())
		}
		outs[c.OutName()] = true
	}
	if kept == 0 {
		return errors.New("spec keeps no column (all ignored)")
	}
	return nil
}

func (c *ColumnSpec) check() error {
	if c.Name == "" {
		return errors.New("no name")
	}
	if strings.ContainsAny(c.OutName(), ",\n\r") {
		return fmt.Errorf("name %q has a comma or newline", c.OutName())
	}
	switch c.Role {
	case RoleIgnore:
		return nil
	case RoleID, RoleTime, RoleContext, RoleAction, RolePropensity, RoleOutcome:
	case "":
		return errors.New("no role (want id, time, context, action, propensity, outcome or ignore)")
	default:
		return fmt.Errorf("unknown role %q (want id, time, context, action, propensity, outcome or ignore)", c.Role)
	}
	switch c.Kind {
	case "", KindNumeric, KindCategorical, KindTime:
	default:
		return fmt.Errorf("unknown kind %q (want numeric, categorical or time)", c.Kind)
	}
	if c.Map != nil || c.Constant != nil {
		if c.Kind == "" {
			c.Kind = KindNumeric
		}
		if c.Kind != KindNumeric {
			return errors.New("map and constant make numeric columns")
		}
	}
	if c.Map != nil && len(c.Map) == 0 {
		return errors.New("empty map")
	}
	for k, v := range c.Map {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("map %q: value is not finite", k)
		}
	}
	if c.Map != nil && c.Constant != nil {
		return errors.New("map and constant together")
	}
	if c.Constant != nil && (math.IsNaN(*c.Constant) || math.IsInf(*c.Constant, 0)) {
		return errors.New("constant is not finite")
	}
	if len(c.Levels) > 0 {
		if c.Kind == "" {
			c.Kind = KindCategorical
		}
		if c.Kind != KindCategorical {
			return errors.New("levels make categorical columns")
		}
		seen := map[string]bool{}
		for _, l := range c.Levels {
			if seen[l] {
				return fmt.Errorf("level %q listed twice", l)
			}
			seen[l] = true
		}
	}
	switch c.Role {
	case RoleID:
		if c.Kind == "" {
			c.Kind = KindCategorical
		}
		if c.Kind != KindCategorical {
			return errors.New("id columns are categorical (strings)")
		}
	case RoleTime:
		if c.Kind == "" {
			c.Kind = KindTime
		}
		if c.Kind != KindTime {
			return errors.New("time columns have kind time")
		}
	case RolePropensity:
		if c.Kind == "" {
			c.Kind = KindNumeric
		}
		if c.Kind != KindNumeric {
			return errors.New("propensity is numeric")
		}
		if c.Constant != nil && (*c.Constant <= 0 || *c.Constant > 1) {
			return fmt.Errorf("constant propensity %v not in (0, 1]", *c.Constant)
		}
	}
	if c.Kind == KindTime {
		switch c.Format {
		case "", "rfc3339", "date", "unix", "unix_ms":
		default:
			if !strings.ContainsAny(c.Format, "0123456789") {
				return fmt.Errorf("time format %q: want rfc3339, date, unix, unix_ms or a Go layout", c.Format)
			}
		}
	} else if c.Format != "" {
		return errors.New("format applies to time columns only")
	}
	if c.Missing == nil && (c.Role == RoleContext || c.Role == RoleAction) {
		c.Missing = []string{""}
	}
	return nil
}

// isMissing reports whether cell v means "missing" for the column.
func (c *ColumnSpec) isMissing(v string) bool { return slices.Contains(c.Missing, v) }

// parseTime parses a time cell per the column's format into UTC micros.
func (c *ColumnSpec) parseTime(v string) (int64, string) {
	switch c.Format {
	case "", "rfc3339":
		us, err := ParseTime(v)
		if err != nil {
			return 0, "not an RFC 3339 time"
		}
		return us, ""
	case "date":
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return 0, "not a date (YYYY-MM-DD)"
		}
		return t.UnixMicro(), ""
	case "unix", "unix_ms":
		f, ok := parseFinite(v)
		if !ok {
			return 0, "not a unix time"
		}
		if c.Format == "unix" {
			f *= 1e6
		} else {
			f *= 1e3
		}
		if math.Abs(f) > 9e18 {
			return 0, "unix time out of range"
		}
		return int64(f), ""
	default:
		t, err := time.Parse(c.Format, v)
		if err != nil {
			return 0, "does not match time layout " + c.Format
		}
		return t.UTC().UnixMicro(), ""
	}
}
