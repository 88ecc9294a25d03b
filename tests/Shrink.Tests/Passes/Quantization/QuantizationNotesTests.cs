using Shrink.Data;
using Shrink.Ir;
using Shrink.Passes.Quantization;
using Shrink.Techniques;
using Shrink.Text;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Passes.Quantization;

/// <summary>
/// The notes of quantization name the options they are about (<see cref="QuantizationOptions.ReduceRange"/>,
/// <see cref="QuantizationOptions.LowBitStorage"/>), in words for a library user and as the session's names when it has them.
/// </summary>
public class QuantizationNotesTests
{
    private static readonly OptionNaming Marked = o => $"<{o.Property}>";

    [Fact]
    public void TheReduceRangeNotesNameTheProperty()
    {
        var on = new QuantizationOptions { ReduceRange = ReduceRange.On }.ResolveReduceRange(integerKernels: true);
        Assert.True(on.On);
        Assert.Equal($"int8 weights use 7 bits (levels ±{WeightQuantizer.ReducedLimit}; reduce range on)", on.Note!.ToString());
        Assert.Equal("ReduceRange", Assert.Single(on.Note.Options).Property);

        // Off and auto say something only where this CPU's u8×s8 kernels saturate (x86 without VNNI).
        foreach (var (range, said, marked) in new[]
        {
            (ReduceRange.Off, new[] { "(reduce range off)", "(reduce range auto avoids it)" }, "(<ReduceRange> off)"),
            (ReduceRange.Auto, new[] { "; reduce range auto)", "reduce range off keeps 8 bits" }, "; <ReduceRange> auto)"),
        })
        {
            var (_, note) = new QuantizationOptions { ReduceRange = range }.ResolveReduceRange(integerKernels: true);
            Assert.Equal(IntegerKernels.U8S8Saturates, note is not null);
            if (note is null) continue;
            Assert.DoesNotContain("--", note.ToString());
            Assert.All(said, s => Assert.Contains(s, note.ToString()));
            Assert.Equal(new[] { "ReduceRange", "ReduceRange" }, note.Options.Select(o => o.Property));
            Assert.Contains(marked, note.Render(Marked));
        }
        Assert.Null(new QuantizationOptions { ReduceRange = ReduceRange.Auto }.ResolveReduceRange(integerKernels: false).Note); // weight-only: float kernels
    }

    [Fact]
    public void TheSessionNamesTheOptionsInTheNotesOfStaticAndDynamicQuantization()
    {
        var model = ModelZoo.Create("lenet300", seed: 1);
        var calibration = CalibrationSet.From(FashionMnist.LoadEmbedded().Train, 16);
        var int4 = new QuantizeOptions { Weights = WeightPrecision.Int4, CalibrationSamples = 16 };

        var words = Quantizer.Static(model, calibration, int4);
        var storage = Assert.Single(words.Notes, n => n.StartsWith("low-bit weights stored as ONNX int4", StringComparison.Ordinal));
        Assert.EndsWith("; low bit storage int8 keeps its int8 kernels", storage);
        Assert.DoesNotContain(words.Notes, n => n.Contains("--"));

        var named = Quantizer.Static(model, calibration, int4, new TechniqueSession { Naming = Marked });
        Assert.Contains(named.Notes, n => n.EndsWith("; <LowBitStorage> int8 keeps its int8 kernels", StringComparison.Ordinal));

        var dynamic = Quantizer.Run(model, new QuantizeOptions { Mode = QuantizeMode.Dynamic, ReduceRange = ReduceRange.On }, null, new TechniqueSession { Naming = Marked });
        Assert.Contains($"int8 weights use 7 bits (levels ±{WeightQuantizer.ReducedLimit}; <ReduceRange> on)", dynamic.Notes);
        Assert.Contains($"int8 weights use 7 bits (levels ±{WeightQuantizer.ReducedLimit}; reduce range on)", Quantizer.Dynamic(model, new QuantizeOptions { ReduceRange = ReduceRange.On }).Notes);
    }

    [Fact]
    public void APassTechniqueGivesItsPassTheSessionsNames()
    {
        var notes = new List<string>();
        var options = new QuantizationOptions { ReduceRange = ReduceRange.On };
        var result = TechniqueRegistry.Find("quantize-dynamic").Run(ModelZoo.Create("lenet300"), options, TechniqueInputs.None,
            new TechniqueSession { Naming = Marked, Notes = notes.Add });
        Assert.Contains($"int8 weights use 7 bits (levels ±{WeightQuantizer.ReducedLimit}; <ReduceRange> on)", result.Notes);
        Assert.Equal(result.Notes, notes);
    }
}
