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
/// [--hint TEACHER_TENSOR:STUDENT_TENSOR] [--attention T:S] --epochs N [--data DIR] --out OUT [--json] [--save-recipe FILE | --dry-run]</c>:
/// trains the student on the teacher's softened outputs (and features) with the training options of
/// <c>shrink train</c> (<see cref="Distiller"/>), and compares teacher and student in ONNX Runtime; or writes the
/// command as a one-stage recipe of <c>distill</c>, or prints what would run (<see cref="DistillCli"/>).
/// </summary>
internal static class DistillCommand
{
    public static Command Create(CliContext cli)
    {
        var f = new DistillCli();
        var command = new Command("distill", "Train a student on a teacher's soft outputs and features (knowledge distillation) and compare them");
        foreach (var o in f.All) command.Options.Add(o);
        command.SetAction(cli.Guard(p => Run(cli, f, p)));
        return f.Training.Flags(cli, command);
    }

    private static int Run(CliContext cli, DistillCli f, ParseResult p)
    {
        var outPath = p.GetValue(f.Output)!;
        var (teacherSource, studentSource) = (p.GetValue(f.Teacher)!, p.GetValue(f.Student)!);
        var guard = Options.CheckOutput(outPath, teacherSource, studentSource);
        var distill = f.Distillation(p);
        var training = f.Training.Build(p, outPath, 1 - distill.Alpha);
        // A zoo teacher is trained first, with the student's options (its own epochs), checkpointed in the run's teacher/.
        var options = f.Build(p, distill, training);
        var studentModel = TrainingCli.ModelFrom("--student", studentSource, training.Seed);
        var teacherModel = TrainingCli.ModelFrom("--teacher", teacherSource, training.Seed + 1);
        var data = f.Training.LoadData(p, studentModel, $"the student {studentSource}");
        var (train, test) = (data.Train, data.Test);
        Distiller.Check(studentModel, teacherModel, data);
        if (f.HandleRecipe(cli, p, options, guard) is { } code) return code;
        var quiet = p.GetValue(f.Json);
        f.Training.InitTorch(p);
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
