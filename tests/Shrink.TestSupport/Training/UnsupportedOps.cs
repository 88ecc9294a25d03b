using Shrink.Ir;

namespace Shrink.TestSupport;

/// <summary>A model whose ops the executor lacks, and the advice its one-line refusal ends with (the executor's and the CLI's tests).</summary>
internal static class UnsupportedOps
{
    /// <summary>The end of the executor's refusal: what to do about ops it cannot run.</summary>
    public const string Mend = "training and fine-tuning need them — export the model without them (keep post-processing outside the graph), "
        + "or compress it without fine-tuning";

    /// <summary>A graph of ops the executor lacks (it is never run, only compiled).</summary>
    public static Model Detector()
    {
        var g = new OpGraph(13);
        var x = g.Input(1, 2, 4);
        var decoded = g.Op("Decode", x);
        decoded.Producer!.Domain = "com.example";
        var first = g.Op("NonMaxSuppression", new[] { decoded, x });
        var second = g.Op("NonMaxSuppression", new[] { first, x });
        var model = g.Build(g.Op("RoiAlign", new[] { second, x }));
        model.SetOpset("com.example", 1);
        return model;
    }
}
