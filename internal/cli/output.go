package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// printer writes a command's result in the chosen format.
type printer struct {
	w    io.Writer
	json bool
}

func newPrinter(w io.Writer, format string) (printer, error) {
	switch format {
	case "", "table":
		return printer{w: w}, nil
	case "json":
		return printer{w: w, json: true}, nil
	}
	return printer{}, fmt.Errorf("-o %q: give table or json", format)
}

// JSON writes v indented.
func (p printer) JSON(v any) error {
	enc := json.NewEncoder(p.w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// column is one column of a list: its header and its cell of an item.
type column[T any] struct {
	header string
	cell   func(T) string
}

// list prints a page: in table form, a header and a row per item, then
// the cursor of the next page if there is one.
func list[T any](p printer, page Page[T], cols []column[T]) error {
	if p.json {
		if page.Items == nil {
			page.Items = []T{}
		}
		return p.JSON(page)
	}
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	hs := make([]string, len(cols))
	for i, c := range cols {
		hs[i] = c.header
	}
	fmt.Fprintln(tw, strings.Join(hs, "\t"))
	for _, it := range page.Items {
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = clean(c.cell(it))
			if cells[i] == "" {
				cells[i] = "-"
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.NextCursor != "" {
		fmt.Fprintf(p.w, "next page: --cursor %s\n", page.NextCursor)
	}
	return nil
}

// object prints one API object: in table form a FIELD VALUE row per
// member, in the API's member order (its JSON names), nested objects
// flattened as parent.member.
func (p printer) object(v any) error {
	if p.json {
		return p.JSON(v)
	}
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tVALUE")
	rows(tw, "", reflect.ValueOf(v))
	return tw.Flush()
}

func rows(w io.Writer, prefix string, v reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fv := v.Field(i)
		if strings.Contains(opts, "omitempty") && fv.IsZero() {
			continue
		}
		if fv.Kind() == reflect.Struct {
			rows(w, prefix+name+".", fv)
			continue
		}
		val := clean(cell(fv.Interface()))
		if val == "" {
			val = "-"
		}
		fmt.Fprintf(w, "%s%s\t%s\n", prefix, name, val)
	}
}

// cell formats a value for a table: lists joined by commas, maps as
// sorted key=value pairs.
func cell(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case *bool:
		if x == nil {
			return ""
		}
		return strconv.FormatBool(*x)
	case []string:
		return strings.Join(x, ",")
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + cell(x[k])
		}
		return strings.Join(parts, " ")
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// clean keeps a cell on one line and free of terminal control characters
// (values come from the server, and may come from users).
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}
