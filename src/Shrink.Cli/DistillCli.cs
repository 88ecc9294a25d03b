using System.CommandLine;
using Shrink.Data;
using Shrink.Recipes;
using Shrink.Training;
using Shrink.Training.Distillation;
using Shrink.Zoo;

namespace Shrink.Cli;

/// <summary>
/// The options of <c>shrink distill</c> and their mapping to the <c>distill</c> technique's <see cref="DistillTechniqueOptions"/>
/// and to a recipe: the student as the recipe's model, the data, the teacher (an ONNX file, or a zoo model built with
/// --seed + 1 and trained first).
/// </summary>
internal sealed class DistillCli
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
    public readonly RecipeCli Recipe = new();

    public IEnumerable<Option> All => new Option[] { Teacher, TeacherEpochs, Student, Shared.Temperature, Shared.Alpha, Hints, HintWeight, Attention, AttentionWeight, NoCache }
        .Concat(Training.All).Append(Output).Append(Json).Concat(Recipe.All);

    public DistillationOptions Distillation(ParseResult p) => new DistillationOptions
    {
        Temperature = p.GetValue(Shared.Temperature), Alpha = p.GetValue(Shared.Alpha),
        Hints = (p.GetValue(Hints) ?? Array.Empty<string>()).Select(h => TensorPair.Parse("--hint", h)).ToArray(), HintWeight = p.GetValue(HintWeight),
        Attention = (p.GetValue(Attention) ?? Array.Empty<string>()).Select(h => TensorPair.Parse("--attention", h)).ToArray(), AttentionWeight = p.GetValue(AttentionWeight),
        CacheLogits = !p.GetValue(NoCache),
    }.Validate();

    /// <summary>The technique's options: a zoo teacher is trained first for --teacher-epochs (default --epochs), a file teacher is used as it is.</summary>
    public DistillTechniqueOptions Build(ParseResult p, DistillationOptions distill, TrainOptions training)
    {
        if (p.GetValue(TeacherEpochs) is < 1) throw new OptionsException($"--teacher-epochs must be at least 1, got {p.GetValue(TeacherEpochs)}");
        var zooTeacher = ModelZoo.Names.Contains(p.GetValue(Teacher)!);
        return new DistillTechniqueOptions { Distillation = distill, Training = training, TeacherEpochs = zooTeacher ? p.GetValue(TeacherEpochs) ?? training.Epochs : null };
    }

    /// <summary>
    /// With --save-recipe or --dry-run, does that for the command and returns the exit code, else null: the student is the
    /// recipe's model (a zoo student with --seed), the teacher its data's teacher (a zoo teacher with --seed + 1, as
    /// <see cref="TrainingCli.ModelFrom"/> builds them), --limit its training limit; the run directory is the recipe run's.
    /// </summary>
    public int? HandleRecipe(CliContext cli, ParseResult p, DistillTechniqueOptions options, IO.OutputGuard guard)
    {
        Recipe.Unsaved(p, "--threads", p.GetValue(Training.Threads) != 0, "libtorch's thread count, which a recipe run leaves at one per core");
        var (teacher, student, seed) = (p.GetValue(Teacher)!, p.GetValue(Student)!, options.Training.Seed);
        var zooTeacher = ModelZoo.Names.Contains(teacher);
        var model = ModelZoo.Names.Contains(student) ? RecipeModel.FromZoo(student, seed) : RecipeModel.File(student);
        var data = Training.DataFlags.Recipe(p, FashionMnist.Locate(p.GetValue(Training.Data))) with
        {
            TrainLimit = p.GetValue(Training.Limit),
            Teacher = zooTeacher ? null : teacher, TeacherZoo = zooTeacher ? teacher : null, TeacherSeed = zooTeacher ? seed + 1 : 0,
        };
        var stage = options with { Training = options.Training with { RunDirectory = null, Resume = false } };
        return Recipe.Handle(cli, p, "distill", stage, model, data, guard: guard);
    }
}
