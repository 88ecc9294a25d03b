using Spectre.Console;
using Shrink.Evaluation;

namespace Shrink.Cli.Reports;

/// <summary>What <c>shrink distill</c> prints: teacher and student side by side, and the student's accuracy in the executor and in ONNX Runtime.</summary>
internal sealed record DistillReport(string Teacher, string Student, string Out, double Temperature, double Alpha, string[] Hints, string[] Attention,
    bool CachedLogits, int Epochs, int Seed, double[] EpochSeconds, ModelMeasurement TeacherSide, ModelMeasurement StudentSide,
    double? StudentAccuracyBefore, double ExecutorAccuracy)
{
    public void Render(IAnsiConsole c)
    {
        var table = new Table().AddColumns("", "teacher", "student");
        table.AddRow("model", Markup.Escape(Path.GetFileName(Teacher)), Markup.Escape(Path.GetFileName(Student)));
        table.AddRow("parameters", TeacherSide.Parameters.ToString("N0"), StudentSide.Parameters.ToString("N0"));
        table.AddRow("MACs per sample", Format.Macs(TeacherSide.Macs, true), Format.Macs(StudentSide.Macs, true));
        table.AddRow("accuracy (ONNX Runtime)", $"{TeacherSide.Accuracy:P2}", $"{StudentSide.Accuracy:P2}");
        c.Write(table);
        if (StudentAccuracyBefore is { } before) c.WriteLine($"student before distillation: {before:P2}");
        c.WriteLine($"wrote {Out}: executor {ExecutorAccuracy:P2}, ONNX Runtime {StudentSide.Accuracy:P2}; {Epochs} epochs in {EpochSeconds.Sum():F0} s " +
            $"(teacher logits {(CachedLogits ? "cached" : "computed at every step")})");
    }
}
