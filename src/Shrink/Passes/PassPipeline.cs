using Shrink.Ir;

namespace Shrink.Passes;

/// <summary>
/// Runs passes in order. The verifier (<see cref="GraphValidator"/>) runs before the first pass and
/// after each one when <see cref="VerifyEach"/> is on (tests, debug builds), so a pass that breaks
/// the graph is caught at once and named. (STYLE: onnx-ir <c>Sequential</c>, MLIR verify-each)
/// </summary>
public sealed class PassPipeline
{
    private readonly IReadOnlyList<IPass> _passes;

    public PassPipeline(params IPass[] passes) => _passes = passes;

    /// <summary>Validate the graph before the first pass and after every pass.</summary>
    public bool VerifyEach { get; init; }
#if DEBUG
        = true;
#endif

    /// <summary>Runs every pass; the stats of each are keyed <c>pass-id.counter</c>.</summary>
    public PassResult Run(Model model, PassContext context)
    {
        var done = new List<string>();
        var stats = new Dictionary<string, long>();
        var modified = false;
        if (VerifyEach) Verify(model, "(input)", done);
        foreach (var pass in _passes)
        {
            if (pass.CheckPreconditions(model) is { } reason) throw new PassFailedException(pass.Id, done, reason);
            var result = pass.Run(model, context);
            model = result.Model;
            modified |= result.Modified;
            foreach (var (k, v) in result.Stats) stats[$"{pass.Id}.{k}"] = v;
            if (VerifyEach) Verify(model, pass.Id, done);
            done.Add(pass.Id);
        }
        return new PassResult(model, modified, stats);
    }

    private static void Verify(Model model, string pass, List<string> before)
    {
        var problems = GraphValidator.Validate(model, new ValidationOptions { CheckTypes = true });
        if (problems.Count > 0) throw new PassFailedException(pass, before, $"the graph is not valid afterwards: {problems[0]}");
    }
}
