using Shrink.Data;
using Shrink.Passes.Pruning;
using Shrink.Training;
using Shrink.Training.Execution;
using Shrink.Training.Pruning;
using TorchSharp;
using Xunit;
using Tensor = TorchSharp.torch.Tensor;

namespace Shrink.Training.Tests.Security;

/// <summary>
/// The hooks' state in a checkpoint (here AGP's masks) is held to the run like every other tensor: a forged
/// checkpoint — sealed with a valid checksum — that drops it, reshapes it or adds state the run does not have is
/// refused with one line naming the tensor, and the hooks' settings are part of the run's fingerprint.
/// </summary>
[Collection("torch")]
public class CheckpointHookStateTests
{
    private static readonly IDataSource Train = FashionMnist.LoadEmbedded().Train.Take(256);
    private static readonly TrainOptions Options = new() { Epochs = 2, BatchSize = 64, EvaluateEachEpoch = false };

    /// <summary>A trainer of the AGP run in <paramref name="runDirectory"/> (and the executor it trains, which the caller disposes with it).</summary>
    private static (GraphExecutor Executor, AgpHook Hook, Trainer Trainer) Agp(string runDirectory, bool resume, double sparsity = 0.5, ITrainingHook? extra = null)
    {
        var executor = GraphExecutor.Compile(TrainerTests.SmallNet());
        var hook = new AgpHook(executor, new UnstructuredPruneOptions { Sparsity = sparsity }, 8, updates: 2);
        var hooks = extra is null ? new ITrainingHook[] { hook } : new[] { hook, extra };
        return (executor, hook, new Trainer(executor, Options with { RunDirectory = runDirectory, Resume = resume }, hooks));
    }

    /// <summary>Interrupts the run at step 4 (masks last updated at step 3), forges its checkpoint with <paramref name="forge"/>, and resumes.</summary>
    private static Exception ResumeForged(Func<Dictionary<string, Tensor>, IEnumerable<(string, Tensor)>> forge)
    {
        using var dir = new TempDirectory();
        using (var cancel = new CancellationTokenSource())
        {
            var (ex, hook, trainer) = Agp(dir.Path, resume: false, extra: new CancelAfter(cancel, 4));
            using (ex) using (hook) using (trainer)
                Assert.Throws<TrainingInterruptedException>(() => trainer.Fit(Train, cancel: cancel.Token));
        }
        var (ex2, hook2, reader) = Agp(dir.Path, resume: true);
        using (ex2) using (hook2) using (reader)
        {
            var (state, tensors) = Checkpoint.Load(Checkpoint.PathIn(dir.Path), reader.CheckpointRunFor(Train));
            Assert.Contains(tensors.Keys, k => k.StartsWith("hook-state:agp.mask:", StringComparison.Ordinal));
            Checkpoint.Save(dir.Path, state, forge(tensors).ToList());
            File.Delete(Checkpoint.PreviousIn(dir.Path)); // the intact original would be resumed from otherwise
            foreach (var t in tensors.Values) t.Dispose();
        }
        var (ex3, hook3, resumed) = Agp(dir.Path, resume: true);
        using (ex3) using (hook3) using (resumed)
            return Record.Exception(() => resumed.Fit(Train));
    }

    [Fact]
    public void ACheckpointWithoutTheHooksStateIsRefused()
    {
        var e = ResumeForged(t => t.Where(kv => !kv.Key.StartsWith("hook-state:", StringComparison.Ordinal)).Select(kv => (kv.Key, kv.Value)));
        Assert.Matches(@"is corrupt \(tensor 'hook-state:agp\.mask:[^']+' is missing\)", Assert.IsType<CheckpointException>(e).Message);
    }

    [Fact]
    public void AReshapedHookStateIsRefused()
    {
        var e = ResumeForged(t => t.Select(kv => (kv.Key, kv.Key.StartsWith("hook-state:", StringComparison.Ordinal) ? kv.Value.flatten() : kv.Value)));
        Assert.Matches(@"is corrupt \(rank of tensor 'hook-state:agp\.mask:[^']+' at byte \d+ is 1; this run's is \d\)", Assert.IsType<CheckpointException>(e).Message);
    }

    [Fact]
    public void HookStateTheRunDoesNotHaveIsRefused()
    {
        using var stray = torch.zeros(3);
        // In place of the last tensor: a checkpoint with one tensor more than the run can hold is refused by its count first.
        var e = ResumeForged(t => t.Select(kv => (kv.Key, kv.Value)).SkipLast(1).Append(("hook-state:cluster.centroids:w", stray)));
        Assert.Contains("is 'hook-state:cluster.centroids:w', which this run does not have", Assert.IsType<CheckpointException>(e).Message);
    }

    [Fact]
    public void AnUntouchedCheckpointResumes() => Assert.Null(ResumeForged(t => t.Select(kv => (kv.Key, kv.Value))));

    [Fact]
    public void OtherHookSettingsAreRefusedBeforeAnyTensorIsRead()
    {
        using var dir = new TempDirectory();
        var (ex, hook, trainer) = Agp(dir.Path, resume: false);
        using (ex) using (hook) using (trainer) trainer.Fit(Train);
        var (ex2, hook2, sparser) = Agp(dir.Path, resume: true, sparsity: 0.7);
        using (ex2) using (hook2) using (sparser)
            Assert.Contains("was made with agp.sparsity 0.5 (now 0.7)", Assert.Throws<OptionsException>(() => sparser.Fit(Train)).Message);
    }
}
