using System.CommandLine;
using Spectre.Console;
using Shrink.Cli.Reports;
using Shrink.Data;
using Shrink.Evaluation;
using Shrink.Training.Distillation;
using Shrink.Zoo;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink distill --teacher T.onnx|ZOO --student ZOO|S.onnx [--temperature 4] [--alpha 0.9]
/// [--hint TEACHER_TENSOR:STUDENT_TENSOR] [--attention T:S] --epochs N [--data DIR] --out OUT [--json]</c>:
/// trains the student on the teacher's softened outputs (and features) with the training options of
/// <c>shrink train</c> (<see cref="Distiller"/>), and compares teacher and student in ONNX Runtime.
/// </summary>
internal static class DistillCommand
{
    private sealed class Flags
    {
        public readonly Option<string> Teacher = new("--teacher") { Description = $"Teacher: a trained ONNX file, or a zoo model ({string.Join(", ", ModelZoo.Names)}) trained first with the same options for --teacher-epochs", Required = true };
        public readonly Option<int?> TeacherEpochs = new("--teacher-epochs") { Description = "Epochs to train a zoo teacher (default: --epochs)" };
        public readonly Option<string> Student = new("--student") { Description = $"Student: a zoo model ({string.Join(", ", ModelZoo.Names)}, initialised with --seed) or an ONNX file (its weights are the start)", Required = true };
        public readonly TeacherCli Shared = new();
        public readonly Option<string[]> Hints = new("--hint") { Description = "FitNets hint TEACHER_TENSOR:STUDENT_TENSOR (repeatable): a learned 1x1 conv or linear adapter maps the student's tensor to the teacher's, MSE loss", AllowMultipleArgumentsPerToken = false };
        public readonly Option<double> HintWeight = new("--hint-weight") { Description = "Weight of each hint's MSE", DefaultValueFactory = _ => 1 };
        public readonly Option<string[]> Attention = new("--attention") { Description = "Attention transfer TEACHER_TENSOR:STUDENT_TENSOR (repeatable; feature maps)", AllowMultipleArgumentsPerToken = false };
        public readonly Option<double> AttentionWeight = new("--attention-weight") { Description = "β of attention transfer (β/2 · mean squared difference of the normalised attention maps)", DefaultValueFactory = _ => 1000 };
        public readonly Option<bool> NoCache = new("--no-cache") { Description = "Run the teacher at every step even when its logits could be computed once" };
        public readonly TrainingCli Training = new();
        public readonly Option<string> Output = new("--out") { Description = "Distilled student ONNX model to write", Required = true };
        public readonly Option<bool> Json = Options.Json();

        public DistillationOptions Distillation(ParseResult p) => new DistillationOptions
        {
            Temperature = p.GetValue(Shared.Temperature), Alpha = p.GetValue(Shared.Alpha),
            Hints = (p.GetValue(Hints) ?? Array.Empty<string>()).Select(h => TensorPair.Parse("--hint", h)).ToArray(), HintWeight = p.GetValue(HintWeight),
            Attention = (p.GetValue(Attention) ?? Array.Empty<string>()).Select(h => TensorPair.Parse("--attention", h)).ToArray(), AttentionWeight = p.GetValue(AttentionWeight),
            CacheLogits = !p.GetValue(NoCache),
        }.Validate();
    }

    public static Command Create(CliContext cli)
    {
        var f = new Flags();
        var command = new Command("distill", "Train a student on a teacher's soft outputs and features (knowledge distillation) and compare them")
            { f.Teacher, f.TeacherEpochs, f.Student, f.Shared.Temperature, f.Shared.Alpha, f.Hints, f.HintWeight, f.Attention, f.AttentionWeight, f.NoCache };
        foreach (var o in f.Training.All.Append(f.Output).Append(f.Json)) command.Options.Add(o);
        command.SetAction(cli.Guard(p => Run(cli, f, p)));
        return f.Training.Flags(cli, command);
    }

    private static int Run(CliContext cli, Flags f, ParseResult p)
    {
        var outPath = p.GetValue(f.Output)!;
        var (teacherSource, studentSource) = (p.GetValue(f.Teacher)!, p.GetValue(f.Student)!);
        var guard = Options.CheckOutput(outPath, teacherSource, studentSource);
        var distill = f.Distillation(p);
        var training = f.Training.Build(p, outPath, 1 - distill.Alpha);
        if (p.GetValue(f.TeacherEpochs) is < 1) throw new OptionsException($"--teacher-epochs must be at least 1, got {p.GetValue(f.TeacherEpochs)}");
        var studentModel = TrainingCli.ModelFrom("--student", studentSource, training.Seed);
        var teacherModel = TrainingCli.ModelFrom("--teacher", teacherSource, training.Seed + 1);
        var data = f.Training.LoadData(p, studentModel, $"the student {studentSource}");
        var (train, test) = (data.Train, data.Test);
        Distiller.Check(studentModel, teacherModel, data);
        var quiet = p.GetValue(f.Json);
        f.Training.InitTorch(p);
        // A zoo teacher is trained first, with the student's options (its own epochs), checkpointed in the run's teacher/.
        var options = new DistillTechniqueOptions
        {
            Distillation = distill, Training = training, TeacherEpochs = ModelZoo.Names.Contains(teacherSource) ? p.GetValue(f.TeacherEpochs) ?? training.Epochs : null,
        };
        using var session = new CliSession(cli, training.RunDirectory, training.Resume, quiet, epochLines: true);
        if (options.TeacherEpochs is { } epochs) teacherModel = Distiller.TrainTeacher(teacherModel, training, epochs, data, session.Session);
        var teacherSide = File.Exists(teacherSource) ? ModelEvaluation.Measure(teacherSource, test) : ModelEvaluation.Measure(teacherModel, test);
        double? studentBefore = ModelZoo.Names.Contains(studentSource) || test.ClassCount is null ? null : ModelEvaluation.Accuracy(studentModel, test, "student");
        var result = Distiller.Distill(studentModel, teacherModel, options, data, session.Session, teacherSource, start =>
        {
            if (!quiet)
                cli.Console.WriteLine($"distilling {teacherSource}{(teacherSide.Accuracy is { } a ? $" ({a:P2})" : "")} into {studentSource} on {train.Count:N0} samples of {train.Name}: T {distill.Temperature:G}, α {distill.Alpha:G}, " +
                    $"{distill.Hints.Count} hint(s), {distill.Attention.Count} attention pair(s); teacher logits {(start.CachedLogits ? $"cached in {start.PrepareSeconds:F1} s" : "computed at every step")}");
        });
        var studentSide = TrainingCli.SaveTrained(result.Model, outPath, training.RunDirectory!, copyIntoRun: false, guard, file => DistillReport.Measure(file, teacherModel, test));
        var report = new DistillReport(teacherSource, studentSource, outPath, distill.Temperature, distill.Alpha, distill.Hints.Select(h => h.ToString()).ToArray(),
            distill.Attention.Select(h => h.ToString()).ToArray(), result.CachedLogits, training.Epochs, training.Seed, result.History.Select(h => h.Seconds).ToArray(),
            teacherSide, studentSide, studentBefore, result.ExecutorAccuracy);
        if (quiet) cli.WriteJson(report);
        else report.Render(cli.Console);
        return ShrinkApp.Ok;
    }
}
