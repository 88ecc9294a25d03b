using Shrink.Passes.Pruning;

namespace Shrink.Cli.Reports;

/// <summary>PNG plots of reports (ScottPlot), written atomically.</summary>
internal static class Plots
{
    /// <summary>Accuracy against sparsity, a line per layer, with the dense baseline dashed.</summary>
    public static byte[] Sensitivity(SensitivityReport report, string title)
    {
        var plot = new ScottPlot.Plot();
        foreach (var layer in report.Layers)
        {
            var line = plot.Add.Scatter(layer.Points.Select(p => p.Sparsity).ToArray(), layer.Points.Select(p => p.Accuracy * 100).ToArray());
            line.LegendText = $"{layer.Layer} ({layer.OpType}, {layer.Weights:N0})";
            line.LineWidth = 2;
            line.MarkerSize = 6;
        }
        var baseline = plot.Add.HorizontalLine(report.BaselineAccuracy * 100);
        baseline.LinePattern = ScottPlot.LinePattern.Dashed;
        baseline.LegendText = $"dense {report.BaselineAccuracy:P2}";
        plot.Title(title);
        plot.XLabel("sparsity of the layer pruned alone");
        plot.YLabel(report.Metric == Passes.Pruning.SensitivityAnalysis.AccuracyMetric ? "test accuracy (%)" : $"{report.Metric} with the dense model (%)");
        plot.ShowLegend(ScottPlot.Alignment.LowerLeft);
        return plot.GetImageBytes(900, 560, ScottPlot.ImageFormat.Png);
    }
}
