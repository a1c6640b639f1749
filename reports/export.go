package reports

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/engagehq/engage/datasets"
)

// formatCell renders a cell for CSV: numbers round-trip exactly, null is
// empty, times are RFC 3339.
func formatCell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}

// WriteCSV writes a table as CSV with a header row.
func WriteCSV(w io.Writer, t Table) error {
	cw := csv.NewWriter(w)
	rec := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		rec[i] = c.Name
	}
	if err := cw.Write(rec); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	for _, row := range t.Rows {
		for i, c := range row {
			rec[i] = formatCell(c.V)
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// WriteParquet writes a table as Parquet: one optional column per table
// column (null where the report has null), in table order.
func WriteParquet(w io.Writer, t Table) error {
	names := make([]string, len(t.Columns))
	nodes := make([]parquet.Node, len(t.Columns))
	for i, c := range t.Columns {
		var n parquet.Node
		switch c.Kind {
		case KindInt:
			n = parquet.Int(64)
		case KindFloat:
			n = parquet.Leaf(parquet.DoubleType)
		case KindBool:
			n = parquet.Leaf(parquet.BooleanType)
		case KindTime:
			n = parquet.Timestamp(parquet.Microsecond)
		default:
			n = parquet.String()
		}
		names[i], nodes[i] = c.Name, parquet.Optional(n)
	}
	schema := parquet.NewSchema("engage_report_"+t.Name, datasets.OrderedGroup(names, nodes))
	pw := parquet.NewWriter(w, schema, parquet.Compression(&parquet.Zstd), parquet.CreatedBy("engage", "1", ""))
	rows := make([]parquet.Row, 0, len(t.Rows))
	for _, r := range t.Rows {
		row := make(parquet.Row, len(r))
		for i, c := range r {
			var v parquet.Value
			switch x := c.V.(type) {
			case nil:
				row[i] = parquet.NullValue().Level(0, 0, i)
				continue
			case string:
				v = parquet.ByteArrayValue([]byte(x))
			case int64:
				v = parquet.Int64Value(x)
			case float64:
				v = parquet.DoubleValue(x)
			case bool:
				v = parquet.BooleanValue(x)
			case time.Time:
				v = parquet.Int64Value(x.UnixMicro())
			default:
				return fmt.Errorf("write parquet %s: column %s: unsupported value %T", t.Name, t.Columns[i].Name, c.V)
			}
			row[i] = v.Level(0, 1, i)
		}
		rows = append(rows, row)
	}
	if _, err := pw.WriteRows(rows); err != nil {
		return fmt.Errorf("write parquet %s: %w", t.Name, err)
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("write parquet %s: %w", t.Name, err)
	}
	return nil
}
