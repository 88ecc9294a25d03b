using Spectre.Console;
using Shrink.Evaluation;

namespace Shrink.Cli.Reports;

/// <summary>What <c>shrink distill</c> prints: teacher and student side by side, and the student's accuracy in the executor and in ONNX Runtime.</summary>
internal sealed record DistillReport(string Teacher, string Student, string Out, double Temperature, double Alpha, string[] Hints, string[] Attention,
    bool CachedLogits, int Epochs, int Seed, double[] EpochSeconds, ModelMeasurement TeacherSide, ModelMeasurement StudentSide,
    double? StudentAccuracyBefore, double? ExecutorAccuracy)
{
    /// <summary>The student's file measured on the test data; without labels, with each output's fidelity to the teacher.</summary>
    public static ModelMeasurement Measure(string file, Shrink.Ir.Model teacher, Shrink.Data.IDataSource test)
    {
        var measured = ModelEvaluation.Measure(file, test);
        if (test.ClassCount is not null) return measured;
        using var reference = Shrink.Runtime.OnnxRunner.FromModel(teacher, source: "the teacher");
        using var student = Shrink.Runtime.OnnxRunner.Load(file);
        return measured with { Fidelity = Fidelity.Measure(reference, student, test) };
    }

    public void Render(IAnsiConsole c)
    {
        var table = new Table().AddColumns("", "teacher", "student");
        table.AddRow("model", Markup.Escape(Path.GetFileName(Teacher)), Markup.Escape(Path.GetFileName(Student)));
        table.AddRow("parameters", TeacherSide.Parameters.ToString("N0"), StudentSide.Parameters.ToString("N0"));
        table.AddRow("MACs per sample", Format.Macs(TeacherSide.Macs, TeacherSide.MacsComplete), Format.Macs(StudentSide.Macs, StudentSide.MacsComplete));
        table.AddRow("data", Markup.Escape(TeacherSide.Data ?? ""), Markup.Escape(StudentSide.Data ?? ""));
        if (TeacherSide.Accuracy is not null) table.AddRow("accuracy (ONNX Runtime)", $"{TeacherSide.Accuracy:P2}", $"{StudentSide.Accuracy:P2}");
        c.Write(table);
        if (StudentAccuracyBefore is { } before) c.WriteLine($"student before distillation: {before:P2}");
        foreach (var f in StudentSide.Fidelity ?? Array.Empty<OutputFidelity>()) c.WriteLine($"no labels: the student's fidelity to the teacher, {f}");
        var accuracy = ExecutorAccuracy is { } e ? $"executor {e:P2}, ONNX Runtime {StudentSide.Accuracy:P2}; " : "";
        c.WriteLine($"wrote {Out}: {accuracy}{Epochs} epochs in {EpochSeconds.Sum():F0} s (teacher logits {(CachedLogits ? "cached" : "computed at every step")})");
    }
}
