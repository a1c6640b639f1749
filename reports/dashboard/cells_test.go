package dashboard

import (
	"fmt"
	"html"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// cell is one number or label shown on a page.
type cell struct {
	Ptr, Value, Fmt, Text string
	Numeric               bool
}

var tdRe = regexp.MustCompile(`<td[^>]*data-ptr="([^"]*)"(?: data-value="([^"]*)" data-fmt="([^"]*)")?>([^<]*)</td>`)

// scrapeCells reads the data cells of a page's HTML.
func scrapeCells(page string) []cell {
	var out []cell
	for _, m := range tdRe.FindAllStringSubmatch(page, -1) {
		out = append(out, cell{Ptr: html.UnescapeString(m[1]), Value: html.UnescapeString(m[2]), Fmt: m[3],
			Text: html.UnescapeString(m[4]), Numeric: strings.Contains(m[0], "data-value=")})
	}
	return out
}

// pointer resolves a JSON pointer in a decoded JSON document.
func pointer(doc any, ptr string) (any, error) {
	cur := doc
	for _, part := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		switch x := cur.(type) {
		case map[string]any:
			v, ok := x[part]
			if !ok {
				return nil, nil // omitted (omitempty): the zero value
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(x) {
				return nil, fmt.Errorf("pointer %s: bad index %q", ptr, part)
			}
			cur = x[i]
		default:
			return nil, fmt.Errorf("pointer %s: %q under a scalar", ptr, part)
		}
	}
	return cur, nil
}

// checkCell compares a shown cell with the JSON: the exact value in
// data-value, and the shown text parsed back within its rounding.
func checkCell(doc any, c cell) error {
	v, err := pointer(doc, c.Ptr)
	if err != nil {
		return err
	}
	if !c.Numeric {
		want := ""
		switch x := v.(type) {
		case nil:
			want = "–"
		case string:
			want = x
			if x == "" {
				want = "–"
			} else if t, err := time.Parse(time.RFC3339, x); err == nil {
				want = t.Format(time.DateOnly)
			}
		case bool:
			want = map[bool]string{true: "yes", false: "no"}[x]
		default:
			want = fmt.Sprint(x)
		}
		if c.Text != want {
			return fmt.Errorf("%s: shows %q, JSON has %v", c.Ptr, c.Text, v)
		}
		return nil
	}
	if v == nil {
		if c.Value != "null" || c.Text != "n/a" {
			return fmt.Errorf("%s: JSON null but page has value %q text %q", c.Ptr, c.Value, c.Text)
		}
		return nil
	}
	want, ok := v.(float64)
	if !ok {
		return fmt.Errorf("%s: JSON %v is not a number", c.Ptr, v)
	}
	got, err := strconv.ParseFloat(c.Value, 64)
	if err != nil || got != want {
		return fmt.Errorf("%s: data-value %q, JSON %v", c.Ptr, c.Value, want)
	}
	text := strings.ReplaceAll(strings.TrimSpace(c.Text), ",", "")
	scale := 1.0
	switch c.Fmt {
	case "pct":
		text, scale = strings.TrimSuffix(text, "%"), 0.01
	case "money":
		scale = 100
	}
	shown, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return fmt.Errorf("%s: text %q is not a number", c.Ptr, c.Text)
	}
	decimals := 0
	if _, frac, ok := strings.Cut(text, "."); ok {
		decimals = len(frac)
	}
	tol := 0.5*math.Pow(10, -float64(decimals))*scale + 1e-9*math.Abs(want)
	if math.Abs(shown*scale-want) > tol {
		return fmt.Errorf("%s: shows %q (= %v), JSON %v", c.Ptr, c.Text, shown*scale, want)
	}
	return nil
}
