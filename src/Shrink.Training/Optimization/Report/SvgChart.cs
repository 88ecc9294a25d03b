using System.Globalization;
using System.Text;
using static System.Net.WebUtility;

namespace Shrink.Training.Optimization;

/// <summary>How a series of an <see cref="SvgChart"/> marks its points.</summary>
internal enum Marker { None, Dot, Cross, Ring }

/// <summary>
/// A small SVG chart (the report's plots): series of points (markers, lines) on linear axes with round ticks, or bars on
/// named categories, with a title, axis labels and a legend. The text is drawn by the browser, so the page needs no
/// font on the machine that writes it; every label is XML-escaped.
/// </summary>
internal sealed class SvgChart(string title, string xLabel, string yLabel, int width = 900, int height = 420)
{
    private const double Left = 78, Right = 24, Bottom = 54;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly List<Series> _series = [];
    private (IReadOnlyList<string> Names, IReadOnlyList<double> Values, IReadOnlyList<string> Labels, IReadOnlyList<string> Colors)? _bars;
    private double _bottom = Bottom, _top = 62;
    private (double Min, double Max)? _yRange;

    private sealed record Series(string Legend, string Color, Marker Marker, IReadOnlyList<(double X, double Y)> Points, bool Line, bool Dashed, double Size);

    /// <summary>Adds a series (nothing when <paramref name="points"/> is empty).</summary>
    public SvgChart Add(string legend, string color, IEnumerable<(double X, double Y)> points, Marker marker = Marker.Dot, bool line = false, bool dashed = false, double size = 5)
    {
        var list = points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
        if (list.Count > 0) _series.Add(new Series(legend, color, marker, list, line, dashed, size));
        return this;
    }

    /// <summary>Bars, one per category, each with a label above it; the categories' names under the axis, slanted.</summary>
    public SvgChart Bars(IReadOnlyList<string> names, IReadOnlyList<double> values, IReadOnlyList<string> labels, IReadOnlyList<string> colors)
    {
        _bars = (names, values, labels, colors);
        _bottom = Bottom + Math.Min(110, 6.2 * names.Max(n => n.Length) * 0.7);
        return this;
    }

    /// <summary>A fixed range of the y axis.</summary>
    public SvgChart YRange(double min, double max)
    {
        _yRange = (min, max);
        return this;
    }

    public string Render()
    {
        var s = new StringBuilder(8 * 1024);
        s.Append(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"13\">");
        s.Append(Inv, $"<rect width=\"{width}\" height=\"{height}\" fill=\"#fff\"/>");
        Text(s, width / 2.0, 22, title, "middle", 16, bold: true);
        var legend = LegendLayout();
        _top = 40 + 18 * (legend.Count == 0 ? 0 : legend.Max(l => l.Row) + 1) + 6;
        var (xr, yr) = Ranges();
        var (x0, x1, y0, y1) = (Left, width - Right, height - _bottom, _top);
        double X(double v) => x0 + (v - xr.Min) / (xr.Max - xr.Min) * (x1 - x0);
        double Y(double v) => y0 - (v - yr.Min) / (yr.Max - yr.Min) * (y0 - y1);
        Axes(s, xr, yr, X, Y);
        if (_bars is { } b) DrawBars(s, b, X, Y);
        foreach (var series in _series) Draw(s, series, X, Y);
        Legend(s, legend);
        Text(s, (x0 + x1) / 2, height - 10, xLabel, "middle", 13);
        s.Append(Inv, $"<text x=\"16\" y=\"{(y0 + y1) / 2:F1}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {(y0 + y1) / 2:F1})\">{HtmlEncode(yLabel)}</text>");
        return s.Append("</svg>").ToString();
    }

    private ((double Min, double Max) X, (double Min, double Max) Y) Ranges()
    {
        var points = _series.SelectMany(s => s.Points).ToList();
        var x = _bars is { } b ? (-0.6, b.Names.Count - 0.4) : Pad(points.Min(p => p.X), points.Max(p => p.X));
        var y = _yRange ?? (_bars is { } bars ? Pad(Math.Min(0, bars.Values.Min()), bars.Values.Max()) : Pad(points.Min(p => p.Y), points.Max(p => p.Y)));
        return (x, y);
    }

    private static (double, double) Pad(double min, double max)
    {
        if (max - min < 1e-12) (min, max) = (min - Math.Max(1, Math.Abs(min) * 0.1), max + Math.Max(1, Math.Abs(max) * 0.1));
        var pad = (max - min) * 0.08;
        return (min - pad, max + pad);
    }

    private void Axes(StringBuilder s, (double Min, double Max) xr, (double Min, double Max) yr, Func<double, double> X, Func<double, double> Y)
    {
        var (x0, x1, y0, y1) = (Left, width - Right, height - _bottom, _top);
        foreach (var t in Ticks(yr.Min, yr.Max))
        {
            s.Append(Inv, $"<line x1=\"{x0:F1}\" y1=\"{Y(t):F1}\" x2=\"{x1:F1}\" y2=\"{Y(t):F1}\" stroke=\"#e9ecef\"/>");
            Text(s, x0 - 6, Y(t) + 4, Tick(t), "end", 12);
        }
        if (_bars is null)
            foreach (var t in Ticks(xr.Min, xr.Max))
            {
                s.Append(Inv, $"<line x1=\"{X(t):F1}\" y1=\"{y0:F1}\" x2=\"{X(t):F1}\" y2=\"{y1:F1}\" stroke=\"#f1f3f5\"/>");
                Text(s, X(t), y0 + 17, Tick(t), "middle", 12);
            }
        s.Append(Inv, $"<rect x=\"{x0:F1}\" y=\"{y1:F1}\" width=\"{x1 - x0:F1}\" height=\"{y0 - y1:F1}\" fill=\"none\" stroke=\"#495057\"/>");
    }

    private static void DrawBars(StringBuilder s, (IReadOnlyList<string> Names, IReadOnlyList<double> Values, IReadOnlyList<string> Labels, IReadOnlyList<string> Colors) b,
        Func<double, double> X, Func<double, double> Y)
    {
        var w = Math.Max(2, (X(1) - X(0)) * 0.7);
        for (var i = 0; i < b.Names.Count; i++)
        {
            var (top, zero) = (Y(Math.Max(0, b.Values[i])), Y(0));
            s.Append(Inv, $"<rect x=\"{X(i) - w / 2:F1}\" y=\"{top:F1}\" width=\"{w:F1}\" height=\"{Math.Max(0, zero - top):F1}\" fill=\"{b.Colors[i]}\"/>");
            Text(s, X(i), top - 5, b.Labels[i], "middle", 11);
            s.Append(Inv, $"<text x=\"{X(i):F1}\" y=\"{zero + 14:F1}\" text-anchor=\"end\" font-size=\"12\" transform=\"rotate(-35 {X(i):F1} {zero + 14:F1})\">{HtmlEncode(b.Names[i])}</text>");
        }
    }

    private static void Draw(StringBuilder s, Series series, Func<double, double> X, Func<double, double> Y)
    {
        if (series.Line && series.Points.Count > 1)
            s.Append("<polyline fill=\"none\" stroke=\"").Append(series.Color).Append("\" stroke-width=\"2\"").Append(series.Dashed ? " stroke-dasharray=\"6 4\"" : "")
                .Append(" points=\"").AppendJoin(' ', series.Points.Select(p => string.Create(Inv, $"{X(p.X):F1},{Y(p.Y):F1}"))).Append("\"/>");
        foreach (var p in series.Points) Mark(s, series.Marker, X(p.X), Y(p.Y), series.Size, series.Color);
    }

    private static void Mark(StringBuilder s, Marker marker, double x, double y, double r, string color)
    {
        switch (marker)
        {
            case Marker.Dot: s.Append(Inv, $"<circle cx=\"{x:F1}\" cy=\"{y:F1}\" r=\"{r:F1}\" fill=\"{color}\"/>"); break;
            case Marker.Ring: s.Append(Inv, $"<circle cx=\"{x:F1}\" cy=\"{y:F1}\" r=\"{r:F1}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2.5\"/>"); break;
            case Marker.Cross:
                s.Append(Inv, $"<path d=\"M{x - r:F1} {y - r:F1}L{x + r:F1} {y + r:F1}M{x - r:F1} {y + r:F1}L{x + r:F1} {y - r:F1}\" stroke=\"{color}\" stroke-width=\"2.2\"/>");
                break;
        }
    }

    /// <summary>Where each legend entry goes: rows under the title, wrapped at the chart's width.</summary>
    private List<(Series Series, double X, int Row)> LegendLayout()
    {
        var (x, row, layout) = (Left, 0, new List<(Series, double, int)>());
        foreach (var series in _series.Where(v => v.Legend.Length > 0))
        {
            var w = 40 + 6.6 * series.Legend.Length;
            if (x > Left && x + w > width - Right) (x, row) = (Left, row + 1);
            layout.Add((series, x, row));
            x += w;
        }
        return layout;
    }

    private static void Legend(StringBuilder s, List<(Series Series, double X, int Row)> layout)
    {
        foreach (var (series, x, row) in layout)
        {
            var y = 44 + 18 * row;
            if (series.Line) s.Append(Inv, $"<line x1=\"{x:F1}\" y1=\"{y}\" x2=\"{x + 18:F1}\" y2=\"{y}\" stroke=\"{series.Color}\" stroke-width=\"2\"{(series.Dashed ? " stroke-dasharray=\"6 4\"" : "")}/>");
            Mark(s, series.Marker, x + 9, y, Math.Min(series.Size, 6), series.Color);
            Text(s, x + 24, y + 4, series.Legend, "start", 12);
        }
    }

    private static void Text(StringBuilder s, double x, double y, string text, string anchor, int size, bool bold = false) =>
        s.Append(Inv, $"<text x=\"{x:F1}\" y=\"{y:F1}\" text-anchor=\"{anchor}\" font-size=\"{size}\"{(bold ? " font-weight=\"bold\"" : "")}>{HtmlEncode(text)}</text>");

    /// <summary>Round ticks (1, 2 or 5 times a power of ten) inside [min, max], about five of them.</summary>
    internal static List<double> Ticks(double min, double max)
    {
        var raw = (max - min) / 5;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var step = new[] { 1.0, 2, 5, 10 }.Select(m => m * magnitude).First(v => v >= raw);
        var ticks = new List<double>();
        for (var t = Math.Ceiling(min / step) * step; t <= max + step * 1e-9; t += step) ticks.Add(Math.Abs(t) < step * 1e-9 ? 0 : t);
        return ticks;
    }

    private static string Tick(double v) => Math.Abs(v) >= 1e6 ? (v / 1e6).ToString("0.##", Inv) + "M" : v.ToString("0.####", Inv);
}
