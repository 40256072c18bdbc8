package bench

import (
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// backendColors tells the backends apart in the plots.
var backendColors = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // blue
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, // red
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // green
}

// WritePlot draws the report as a PNG: one row per path, with latency
// (p50 dashed, p99 solid) over time on the left and throughput over time
// on the right; the closed-loop phase comes first, then (after the grey
// line) the open-loop phase at half its peak. Backends are overlaid in
// colours of their own.
func WritePlot(w io.Writer, r *Report) error {
	var names []string
	seen := map[string]bool{}
	for _, b := range r.Backends {
		for _, p := range b.Paths {
			if !seen[p.Name] {
				seen[p.Name] = true
				names = append(names, p.Name)
			}
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("bench: nothing to plot")
	}
	rows := make([][]*plot.Plot, len(names))
	for i, name := range names {
		lat, thr := plot.New(), plot.New()
		lat.Title.Text = name + ": latency (ms), p50 dashed, p99 solid"
		thr.Title.Text = name + ": throughput (ops/s)"
		lat.X.Label.Text, thr.X.Label.Text = "s (closed loop | open loop at half peak)", "s"
		var split float64
		for bi, b := range r.Backends {
			col := backendColors[bi%len(backendColors)]
			for _, p := range b.Paths {
				if p.Name != name || p.Closed == nil {
					continue
				}
				off := 0.0
				for _, ph := range []*PhaseReport{p.Closed, p.Open} {
					if ph == nil || len(ph.Series) == 0 {
						continue
					}
					p50, p99, ops := make(plotter.XYs, len(ph.Series)), make(plotter.XYs, len(ph.Series)), make(plotter.XYs, len(ph.Series))
					for j, s := range ph.Series {
						x := off + s.T
						p50[j], p99[j], ops[j] = plotter.XY{X: x, Y: s.P50}, plotter.XY{X: x, Y: s.P99}, plotter.XY{X: x, Y: s.Throughput}
					}
					l50, err1 := plotter.NewLine(p50)
					l99, err2 := plotter.NewLine(p99)
					lt, err3 := plotter.NewLine(ops)
					if err1 != nil || err2 != nil || err3 != nil {
						continue // no finite points
					}
					l50.LineStyle.Color, l99.LineStyle.Color, lt.LineStyle.Color = col, col, col
					l50.LineStyle.Dashes = []vg.Length{vg.Points(3), vg.Points(2)}
					lat.Add(l50, l99)
					thr.Add(lt)
					if ph == p.Closed {
						lat.Legend.Add(b.Backend, l99)
						thr.Legend.Add(b.Backend, lt)
						off = ph.Seconds
						split = max(split, off)
					}
				}
			}
		}
		for _, pl := range []*plot.Plot{lat, thr} {
			pl.Legend.Top = true
			pl.Y.Min = 0
			if split > 0 && pl == lat {
				pl.Add(vline(split, pl.Y.Max))
			}
			pl.Add(plotter.NewGrid())
		}
		rows[i] = []*plot.Plot{lat, thr}
	}
	const rowHeight = 2.2 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(13*vg.Inch, rowHeight*vg.Length(len(names))), vgimg.UseDPI(96))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(names), Cols: 2, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(rows, tiles, dc)
	for i := range rows {
		for j := range rows[i] {
			rows[i][j].Draw(canvases[i][j])
		}
	}
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

// vline is a grey vertical line at x, marking the start of the open loop.
func vline(x, top float64) *plotter.Line {
	l, _ := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: max(top, 1)}})
	l.LineStyle.Color = color.Gray{Y: 0x99}
	return l
}
