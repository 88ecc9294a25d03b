using System.CommandLine;
using Shrink.Training.Optimization;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink report DIR [--json]</c>: (re)writes <c>DIR/report.html</c> and <c>DIR/report.json</c> of an optimize run from its
/// <c>result.json</c> (<see cref="ReportPage"/>): after a crash, or to refresh a page a run is still writing. A directory
/// without an optimize run is one line, exit code 2.
/// </summary>
internal static class ReportCommand
{
    public static Command Create(CliContext cli)
    {
        var dir = new Argument<string>("DIR") { Description = "Run directory of shrink optimize (--out)" };
        var json = Options.Json();
        var command = new Command("report", "Write the report (report.html, report.json) of a shrink optimize run directory") { dir, json };
        command.SetAction(cli.Guard(p =>
        {
            var path = Path.GetFullPath(p.GetValue(dir)!);
            if (!Directory.Exists(path)) throw new OptionsException($"the run directory {path} does not exist; give the --out directory of shrink optimize");
            var report = ReportPage.Write(path);
            if (p.GetValue(json)) cli.WriteJson(report);
            else cli.Out.WriteLine(Reports.OptimizeReport.Written(report));
            return ShrinkApp.Ok;
        }));
        return command;
    }
}
