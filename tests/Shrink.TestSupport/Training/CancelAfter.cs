using Shrink.Training;

namespace Shrink.TestSupport;

/// <summary>Cancels training after <c>steps</c> optimizer steps (a Ctrl-C at a known place).</summary>
internal sealed class CancelAfter : ITrainingHook
{
    private readonly CancellationTokenSource _cts;
    private readonly long _steps;
    public CancelAfter(CancellationTokenSource cts, long steps) => (_cts, _steps) = (cts, steps);
    public void AfterStep(TrainStep step)
    {
        if (step.GlobalStep + 1 == _steps) _cts.Cancel();
    }
}
