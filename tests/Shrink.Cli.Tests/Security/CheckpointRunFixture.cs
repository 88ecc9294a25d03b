using System.CommandLine;
using Shrink.Cli;
using Shrink.Data;
using Shrink.Training;
using Shrink.Training.Execution;
using Xunit;

namespace Shrink.Cli.Tests.Security;

/// <summary>
/// A real run to attack: <c>shrink train</c>'s options for lenet300 on 640 embedded images (10 batches
/// of 64, 2 epochs), interrupted at step 13, so the newest checkpoint is at epoch 1 done + batch 3
/// and the previous one at epoch 1 done. <see cref="Reference"/> is the model the uninterrupted run writes.
/// </summary>
public sealed class CheckpointRunFixture : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly Lazy<byte[]> _reference;

    /// <summary>The training options of the run.</summary>
    public static readonly string[] TrainingOptions = { "--data", "embedded", "--limit", "640", "--batch", "64", "--epochs", "2" };

    /// <summary>The arguments every resume of the run shares (add --run-dir, --resume, --out).</summary>
    public static readonly string[] Arguments = new[] { "train", "--model", "lenet300" }.Concat(TrainingOptions).ToArray();

    public CheckpointRunFixture()
    {
        var training = new TrainingCli();
        var command = new RootCommand();
        foreach (var o in training.All) command.Options.Add(o);
        var parsed = command.Parse(TrainingOptions.Concat(new[] { "--run-dir", Pristine }).ToArray());
        Assert.Empty(parsed.Errors);
        var options = training.Build(parsed, _dir.File("unused.onnx"));
        var model = TrainingCli.ModelFrom("--model", "lenet300", options.Seed);
        (Train, Test) = training.LoadData(parsed, model, "lenet300");
        training.InitTorch(parsed);
        using var executor = GraphExecutor.Compile(model);
        using var cancel = new CancellationTokenSource();
        using var trainer = new Trainer(executor, options, new[] { new CancelAfter(cancel, 13) });
        Assert.Throws<TrainingInterruptedException>(() => trainer.Fit(Train, Test, cancel.Token));
        Run = trainer.CheckpointRunFor(Train);
        _reference = new Lazy<byte[]>(() =>
        {
            var r = Resume(_dir.File("reference.run"), _dir.File("reference.onnx"), resume: false);
            Assert.True(r.ExitCode == 0, r.Err);
            return File.ReadAllBytes(_dir.File("reference.onnx"));
        });
    }

    /// <summary>The run directory as the interruption left it (copy it before damaging anything).</summary>
    public string Pristine => _dir.File("pristine.run");

    public IDataSource Train { get; }
    public IDataSource Test { get; }

    /// <summary>What a checkpoint of the run must hold.</summary>
    public CheckpointRun Run { get; }

    /// <summary>The model the uninterrupted run writes.</summary>
    public byte[] Reference => _reference.Value;

    /// <summary>A copy of the pristine run directory.</summary>
    public string CopyTo(string runDirectory)
    {
        Directory.CreateDirectory(runDirectory);
        foreach (var f in Directory.GetFiles(Pristine)) File.Copy(f, Path.Combine(runDirectory, Path.GetFileName(f)));
        return runDirectory;
    }

    /// <summary><c>shrink train</c> with the run's options, continuing <paramref name="runDirectory"/>.</summary>
    internal static CliRunner.Result Resume(string runDirectory, string outPath, bool resume = true) =>
        CliRunner.Run(Arguments.Concat(new[] { "--run-dir", runDirectory, "--out", outPath, "--json" }).Concat(resume ? new[] { "--resume" } : Array.Empty<string>()).ToArray());

    public void Dispose() => _dir.Dispose();
}
