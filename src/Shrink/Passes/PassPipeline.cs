using Shrink.Ir;
using Shrink.Techniques;

namespace Shrink.Passes;

/// <summary>
/// Runs passes in order on a private copy of the model (one copy for the whole pipeline; the input stays
/// as it is). The verifier (<see cref="GraphValidator"/>) runs before the first pass and after each one
/// when <see cref="VerifyEach"/> is on (tests, debug builds), so a pass that breaks the graph is caught at
/// once and named. Each pass's artifacts are added to the context before the next pass runs.
/// (STYLE: onnx-ir <c>Sequential</c>, MLIR verify-each)
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

    /// <summary>Runs every pass; the stats of each are keyed <c>pass-id.counter</c>, the artifacts of all come back in order.</summary>
    public PassResult Run(Model model, PassContext context)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(context);
        var done = new List<string>();
        var stats = new Dictionary<string, long>();
        var artifacts = new List<IArtifact>();
        var modified = false;
        var working = model.Clone();
        if (VerifyEach) Verify(working, "(input)", done); // shape inference annotates the copy, not the input
        foreach (var pass in _passes)
        {
            if (pass.CheckPreconditions(working) is { } reason) throw new PassFailedException(pass.Id, done, reason);
            // Shrink's passes edit the private copy; another IPass returns a new model from it (and may edit it: it is ours).
            var result = pass is Pass own ? own.RunInPlace(working, context) : pass.Run(working, context);
            working = result.Model;
            modified |= result.Modified;
            foreach (var (k, v) in result.Stats) stats[$"{pass.Id}.{k}"] = v;
            foreach (var a in result.Artifacts)
            {
                artifacts.Add(a);
                context.Add(a);
            }
            if (VerifyEach) Verify(working, pass.Id, done);
            done.Add(pass.Id);
        }
        return new PassResult(working, modified, stats) { Artifacts = artifacts };
    }

    private static void Verify(Model model, string pass, List<string> before)
    {
        var problems = GraphValidator.Validate(model, new ValidationOptions { CheckTypes = true });
        if (problems.Count > 0) throw new PassFailedException(pass, before, $"the graph is not valid afterwards: {problems[0]}");
    }
}
