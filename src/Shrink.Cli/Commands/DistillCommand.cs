using System.CommandLine;
using Spectre.Console;
using Shrink.Data;
using Shrink.Ir;
using Shrink.Passes.Quantization;
using Shrink.Runtime;
using Shrink.Training;
using Shrink.Training.Distillation;
using Shrink.Training.Execution;
using Shrink.Zoo;

namespace Shrink.Cli.Commands;

/// <summary>
/// <c>shrink distill --teacher T.onnx|ZOO --student ZOO|S.onnx [--temperature 4] [--alpha 0.9]
/// [--hint TEACHER_TENSOR:STUDENT_TENSOR] [--attention T:S] --epochs N [--data DIR] --out OUT [--json]</c>:
/// trains the student on the teacher's softened outputs (and features), with the training options of
/// <c>shrink train</c>, and compares teacher and student in ONNX Runtime.
/// </summary>
internal static class DistillCommand
{
    public static Command Create(CliContext cli)
    {
        var teacher = new Option<string>("--teacher") { Description = $"Teacher: a trained ONNX file, or a zoo model ({string.Join(", ", ModelZoo.Names)}) trained first with the same options for --teacher-epochs", Required = true };
        var teacherEpochs = new Option<int?>("--teacher-epochs") { Description = "Epochs to train a zoo teacher (default: --epochs)" };
        var student = new Option<string>("--student") { Description = $"Student: a zoo model ({string.Join(", ", ModelZoo.Names)}, initialised with --seed) or an ONNX file (its weights are the start)", Required = true };
        var shared = new TeacherCli();
        var (temperature, alpha) = (shared.Temperature, shared.Alpha);
        var hints = new Option<string[]>("--hint") { Description = "FitNets hint TEACHER_TENSOR:STUDENT_TENSOR (repeatable): a learned 1x1 conv or linear adapter maps the student's tensor to the teacher's, MSE loss", AllowMultipleArgumentsPerToken = false };
        var hintWeight = new Option<double>("--hint-weight") { Description = "Weight of each hint's MSE", DefaultValueFactory = _ => 1 };
        var attention = new Option<string[]>("--attention") { Description = "Attention transfer TEACHER_TENSOR:STUDENT_TENSOR (repeatable; feature maps)", AllowMultipleArgumentsPerToken = false };
        var attentionWeight = new Option<double>("--attention-weight") { Description = "β of attention transfer (β/2 · mean squared difference of the normalised attention maps)", DefaultValueFactory = _ => 1000 };
        var noCache = new Option<bool>("--no-cache") { Description = "Run the teacher at every step even when its logits could be computed once" };
        var training = new TrainingCli();
        var output = new Option<string>("--out") { Description = "Distilled student ONNX model to write", Required = true };
        var json = Options.Json();
        var command = new Command("distill", "Train a student on a teacher's soft outputs and features (knowledge distillation) and compare them")
            { teacher, teacherEpochs, student, temperature, alpha, hints, hintWeight, attention, attentionWeight, noCache };
        foreach (var o in training.All) command.Options.Add(o);
        command.Options.Add(output);
        command.Options.Add(json);
        command.SetAction(cli.Guard(p =>
        {
            var outPath = p.GetValue(output)!;
            var (teacherSource, studentSource) = (p.GetValue(teacher)!, p.GetValue(student)!);
            var guard = Options.CheckOutput(outPath, teacherSource, studentSource);
            var distill = new DistillationOptions
            {
                Temperature = p.GetValue(temperature),
                Alpha = p.GetValue(alpha),
                Hints = (p.GetValue(hints) ?? Array.Empty<string>()).Select(h => TensorPair.Parse("--hint", h)).ToArray(),
                HintWeight = p.GetValue(hintWeight),
                Attention = (p.GetValue(attention) ?? Array.Empty<string>()).Select(h => TensorPair.Parse("--attention", h)).ToArray(),
                AttentionWeight = p.GetValue(attentionWeight),
                CacheLogits = !p.GetValue(noCache),
            }.Validate();
            var options = training.Build(p, outPath, 1 - distill.Alpha);
            if (p.GetValue(teacherEpochs) is < 1) throw new OptionsException($"--teacher-epochs must be at least 1, got {p.GetValue(teacherEpochs)}");
            var (train, test) = training.LoadData(p);
            var studentModel = TrainingCli.ModelFrom("--student", studentSource, options.Seed);
            var teacherModel = TrainingCli.ModelFrom("--teacher", teacherSource, options.Seed + 1);
            CalibrationSet.FromDataset(test, 1).CheckFits(teacherModel);
            CalibrationSet.FromDataset(test, 1).CheckFits(studentModel);
            var quiet = p.GetValue(json);
            training.InitTorch(p);

            if (ModelZoo.Names.Contains(teacherSource))
            {
                // A zoo teacher is trained first, with the student's options (its own epochs), checkpointed in the run's teacher/.
                var teacherOptions = TrainingSession.SubRun(options with { Epochs = p.GetValue(teacherEpochs) ?? options.Epochs, LabelLossWeight = 1 }, "teacher");
                using var te = GraphExecutor.Compile(teacherModel);
                using var tt = new Trainer(te, teacherOptions.Validate());
                TrainingCli.Fit(cli, tt, train, test, quiet, "teacher");
                teacherModel = te.Export();
            }

            var teacherSide = MeasureModel(teacherModel, File.Exists(teacherSource) ? teacherSource : null, test);
            using var executor = GraphExecutor.Compile(studentModel);
            double? studentBefore = ModelZoo.Names.Contains(studentSource) ? null : OnnxRunnerAccuracy(studentModel, test);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using var hook = new DistillationHook(executor, teacherModel, distill, train, options.Seed);
            var prepare = clock.Elapsed.TotalSeconds;
            using var trainer = new Trainer(executor, options, new ITrainingHook[] { hook });
            if (!quiet)
                cli.Console.WriteLine($"distilling {teacherSource} ({teacherSide.Accuracy:P2}) into {studentSource} on {train.Count:N0} samples: T {distill.Temperature:G}, α {distill.Alpha:G}, " +
                    $"{distill.Hints.Count} hint(s), {distill.Attention.Count} attention pair(s); teacher logits {(hook.Cached ? $"cached in {prepare:F1} s" : "computed at every step")}");
            TrainingCli.Fit(cli, trainer, train, test, quiet);

            var executorAccuracy = trainer.Evaluate(test).Accuracy;
            var distilled = executor.Export();
            distilled.SetMetadata("shrink.distilled", $"from {Path.GetFileName(teacherSource)}: T {distill.Temperature:G} alpha {distill.Alpha:G}, {options.Epochs} epochs seed {options.Seed}");
            var studentSide = TrainingCli.SaveTrained(distilled, outPath, options.RunDirectory!, copyIntoRun: false, guard,
                file => Reports.ModelSide.Measure(file, test).Side);
            var report = new DistillReport(teacherSource, studentSource, outPath, distill.Temperature, distill.Alpha, distill.Hints.Select(h => h.ToString()).ToArray(),
                distill.Attention.Select(h => h.ToString()).ToArray(), hook.Cached, options.Epochs, options.Seed, trainer.History.Select(h => h.Seconds).ToArray(),
                teacherSide, studentSide, studentBefore, executorAccuracy);
            if (quiet) cli.WriteJson(report);
            else Render(cli.Console, report);
            return ShrinkApp.Ok;
        }));
        return command;
    }

    /// <summary>Size, parameters, MACs and ONNX Runtime accuracy of a model (its file when it has one, else a temporary copy, removed after).</summary>
    private static Reports.ModelSide MeasureModel(Model model, string? file, Dataset test)
    {
        if (file is not null) return Reports.ModelSide.Measure(file, test).Side;
        using var staged = ModelSaver.Stage(model, Path.Combine(Path.GetTempPath(), $"shrink-teacher-{Guid.NewGuid():N}.onnx"));  // never committed
        return Reports.ModelSide.Measure(staged.TempPath, test).Side;
    }

    private static double OnnxRunnerAccuracy(Model model, Dataset test)
    {
        using var runner = OnnxRunner.FromModel(model, source: "student");
        return runner.Evaluate(test).Accuracy;
    }

    private static void Render(IAnsiConsole c, DistillReport r)
    {
        var table = new Table().AddColumns("", "teacher", "student");
        table.AddRow("model", Markup.Escape(Path.GetFileName(r.Teacher)), Markup.Escape(Path.GetFileName(r.Student)));
        table.AddRow("parameters", r.TeacherSide.Parameters.ToString("N0"), r.StudentSide.Parameters.ToString("N0"));
        table.AddRow("MACs per sample", Format.Macs(r.TeacherSide.Macs, true), Format.Macs(r.StudentSide.Macs, true));
        table.AddRow("accuracy (ONNX Runtime)", $"{r.TeacherSide.Accuracy:P2}", $"{r.StudentSide.Accuracy:P2}");
        c.Write(table);
        if (r.StudentAccuracyBefore is { } before) c.WriteLine($"student before distillation: {before:P2}");
        c.WriteLine($"wrote {r.Out}: executor {r.ExecutorAccuracy:P2}, ONNX Runtime {r.StudentSide.Accuracy:P2}; {r.Epochs} epochs in {r.EpochSeconds.Sum():F0} s " +
            $"(teacher logits {(r.CachedLogits ? "cached" : "computed at every step")})");
    }
}

internal sealed record DistillReport(string Teacher, string Student, string Out, double Temperature, double Alpha, string[] Hints, string[] Attention,
    bool CachedLogits, int Epochs, int Seed, double[] EpochSeconds, Reports.ModelSide TeacherSide, Reports.ModelSide StudentSide,
    double? StudentAccuracyBefore, double ExecutorAccuracy);
