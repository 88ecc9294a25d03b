using Shrink.Search;
using Shrink.TestSupport;
using Xunit;

namespace Shrink.Tests.Search;

/// <summary>A study of synthetic trials coordinated from the library (<see cref="SyntheticJob.Coordinate"/>), its workers in this process.</summary>
public sealed class SyntheticStudyTests
{
    [Fact]
    public void Coordinate_proposes_the_trials_workers_finish_each_with_its_loss_and_the_input_verified()
    {
        using var dir = new TempDirectory();
        var input = dir.File("input.bin");
        File.WriteAllBytes(input, [1, 2, 3]);
        var store = new MemoryTrialStore();
        using var stop = new CancellationTokenSource();
        var worker = Task.Run(() => new TrialWorker(store, SyntheticJob.Register(new TrialJobs()),
            new TrialWorkerOptions { Threads = 2, Poll = TimeSpan.FromMilliseconds(20) }).RunAsync(stop.Token));
        var options = new SyntheticStudyOptions { Study = "s", Seconds = 0, Artifacts = dir.File("artifacts"), Input = input, Seed = 3 };
        Directory.CreateDirectory(options.Artifacts);
        var (study, summary) = SyntheticJob.Coordinate(store, options, new CoordinatorOptions { MaxTrials = 5, Poll = TimeSpan.FromMilliseconds(20) });
        stop.Cancel();
        Assert.Equal("s", study.Name);
        Assert.Equal(5, summary.Trials.Count(t => t.IsFinished));
        Assert.All(summary.Trials, t => Assert.Equal((TrialStatus.Completed, SyntheticJob.Loss(t.Configuration)), (t.Status, t.Metrics["loss"])));
        Assert.Equal(5, summary.Trials.Select(t => t.Configuration.Hash).Distinct().Count());
    }

    [Theory]
    [InlineData(-1.0, false, false, "seconds must be 0 or more, got -1")]
    [InlineData(double.NaN, false, false, "seconds must be 0 or more, got NaN")]
    [InlineData(0.0, true, false, "input needs artifacts: the file is put there for the workers to verify")]
    [InlineData(0.0, true, true, "which does not exist")]
    public void Options_that_cannot_make_a_study_are_refused_with_the_reason(double seconds, bool input, bool artifacts, string message)
    {
        var options = new SyntheticStudyOptions { Seconds = seconds, Input = input ? "/nonexistent/in.bin" : null, Artifacts = artifacts ? "/tmp" : null };
        Assert.Contains(message, Assert.Throws<OptionsException>(() => options.Validate()).Message);
    }
}
