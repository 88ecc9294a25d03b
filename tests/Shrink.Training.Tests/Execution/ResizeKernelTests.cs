using Shrink.Ir;
using Shrink.Training.Execution;
using Xunit;
using Attribute = Shrink.Ir.Attribute;

namespace Shrink.Training.Tests.Execution;

/// <summary>
/// Resize and Upsample against ONNX Runtime on a [1,2,5,7] input: nearest copies the same pixels (tolerance 0);
/// linear and cubic weights are float32 arithmetic, summed axis by axis instead of in one expression
/// (largest difference measured 2.9e-7 of the output's scale; gate 2e-6, 7× that).
/// </summary>
[Collection("torch")]
public class ResizeKernelTests
{
    private const double Interpolated = 2e-6;

    /// <summary>Output geometry: scales (up, fractional, down) or sizes.</summary>
    public static TheoryData<string> Geometries => new() { "up", "fractional", "down", "sizes-up", "sizes-down" };

    private static readonly string[] CoordinateModes =
        { "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn", "half_pixel_symmetric" };

    [Theory]
    [MemberData(nameof(Geometries))]
    public void NearestMatchesOnnxRuntimeForEveryCoordinateAndNearestMode(string geometry)
    {
        foreach (var coordinates in CoordinateModes)
            foreach (var nearest in new[] { "round_prefer_floor", "round_prefer_ceil", "floor", "ceil" })
            {
                var (model, feeds) = Resize(geometry, "nearest", coordinates, Attribute.String("nearest_mode", nearest));
                OpParity.AssertMatches(model, feeds, 0, $"nearest {coordinates} {nearest} {geometry}");
            }
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void LinearMatchesOnnxRuntimeForEveryCoordinateMode(string geometry)
    {
        foreach (var coordinates in CoordinateModes)
        {
            var (model, feeds) = Resize(geometry, "linear", coordinates);
            OpParity.AssertMatches(model, feeds, Interpolated, $"linear {coordinates} {geometry}");
        }
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void CubicMatchesOnnxRuntimeWithAndWithoutExcludeOutside(string geometry)
    {
        foreach (var coordinates in new[] { "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric" })
            foreach (var (a, exclude) in new[] { (-0.75f, 0L), (-0.5f, 1L) })
            {
                var (model, feeds) = Resize(geometry, "cubic", coordinates,
                    Attribute.Float("cubic_coeff_a", a), Attribute.Int("exclude_outside", exclude));
                OpParity.AssertMatches(model, feeds, Interpolated, $"cubic {coordinates} a={a} exclude={exclude} {geometry}");
            }
    }

    [Theory]
    [InlineData("asymmetric", "round_prefer_ceil", 7, 4)]
    [InlineData("half_pixel", "round_prefer_ceil", 20, 6)]
    [InlineData("half_pixel", "round_prefer_floor", 14, 19)]
    [InlineData("tf_half_pixel_for_nn", "round_prefer_floor", 7, 19)]
    public void NearTiesRoundAsOnnxRuntimeRoundsThem(string coordinates, string nearest, long from, long to)
    {
        // float32 puts these coordinates within 1e-6 of a half (3.4999998 for the exact 3.5 of 7 → 4): a tie.
        var g = new OpGraph(13);
        var x = g.Input(new Shrink.Runtime.HostTensor("x", Enumerable.Range(0, (int)from).Select(i => (float)i).ToArray(), new long[] { 1, from }), DataType.Float);
        var model = g.Build(g.Op("Resize", new[] { x, null, null, g.Ints(1, to) }, Attribute.String("mode", "nearest"),
            Attribute.String("coordinate_transformation_mode", coordinates), Attribute.String("nearest_mode", nearest)));
        OpParity.AssertMatches(model, g.Feeds, 0, $"{coordinates} {nearest} {from} → {to}");
    }

    [Fact]
    public void LinearResizesTwoDimensionalAndChannelsLastInputs()
    {
        foreach (var (shape, scales) in new[] { (new long[] { 5, 7 }, new[] { 2f, 0.5f }), (new long[] { 1, 5, 7, 3 }, new[] { 1f, 1.5f, 2f, 1f }) })
        {
            var g = new OpGraph(13);
            var x = g.Input(shape);
            var model = g.Build(g.Op("Resize", new[] { x, null, g.Floats(scales) }, Attribute.String("mode", "linear")));
            OpParity.AssertMatches(model, g.Feeds, Interpolated, $"linear [{string.Join(",", shape)}]");
        }
    }

    [Theory]
    [InlineData("nearest", 0.0)]
    [InlineData("linear", Interpolated)]
    public void OpsetTenResizeAndUpsampleUseTheOldAsymmetricRule(string mode, double tolerance)
    {
        foreach (var scales in new[] { new[] { 1f, 1f, 2f, 3f }, new[] { 1f, 1f, 0.5f, 0.6f } })
        {
            var g = new OpGraph(10);
            var x = g.Input(1, 2, 5, 7);
            var model = g.Build(g.Op("Resize", new[] { x, g.Floats(scales) }, Attribute.String("mode", mode)));
            OpParity.AssertMatches(model, g.Feeds, tolerance, $"Resize-10 {mode} [{string.Join(",", scales)}]");
        }
        var up9 = new OpGraph(9);
        var x9 = up9.Input(1, 2, 5, 7);
        var model9 = up9.Build(up9.Op("Upsample", new[] { x9, up9.Floats(1f, 1f, 2f, 1.5f) }, Attribute.String("mode", mode)));
        OpParity.AssertMatches(model9, up9.Feeds, tolerance, $"Upsample-9 {mode}");
        var up7 = new OpGraph(7);
        var x7 = up7.Input(1, 2, 5, 7);
        var model7 = up7.Build(up7.Op("Upsample", x7, Attribute.String("mode", mode), Attribute.Floats("scales", 1f, 1f, 3f, 2f)));
        OpParity.AssertMatches(model7, up7.Feeds, tolerance, $"Upsample-7 {mode}");
    }

    [Theory]
    [InlineData("stretch")]
    [InlineData("not_larger")]
    [InlineData("not_smaller")]
    public void OpsetEighteenAxesAndAspectRatioPolicies(string policy)
    {
        var g = new OpGraph(18);
        var x = g.Input(1, 2, 5, 7);
        var bySizes = g.Op("Resize", new[] { x, null, null, g.Ints(9, 4) }, Attribute.String("mode", "linear"),
            Attribute.Ints("axes", 2, 3), Attribute.String("keep_aspect_ratio_policy", policy));
        var byScales = g.Op("Resize", new[] { x, null, g.Floats(3f, 0.5f) }, Attribute.String("mode", "nearest"), Attribute.Ints("axes", -1, 2));
        OpParity.AssertMatches(g.Build(bySizes, byScales), g.Feeds, Interpolated, policy);
    }

    [Fact]
    public void SizesComputedFromTheInputShapeRunPerBatch()
    {
        // What F.interpolate(x, size=…) exports: Shape → Slice (N, C) → Concat with the spatial sizes.
        var g = new OpGraph(13);
        var x = g.Input(2, 3, 4, 6);
        var nc = g.Op("Slice", new[] { g.Op("Shape", new[] { x }, DataType.Int64), g.Ints(0), g.Ints(2) }, DataType.Int64);
        var sizes = g.Op("Concat", new[] { nc, g.Ints(7, 5) }, DataType.Int64, Attribute.Int("axis", 0));
        var model = g.Build(g.Op("Resize", new[] { x, null, null, sizes }, Attribute.String("mode", "linear")));
        OpParity.AssertMatches(model, g.Feeds, Interpolated, "sizes from Shape");
    }

    [Theory]
    [InlineData("nearest")]
    [InlineData("linear")]
    [InlineData("cubic")]
    public void GradientsReachTheInput(string mode)
    {
        var (up, upFeeds) = Resize("fractional", mode, "half_pixel");
        OpParity.AssertInputGradient(up, upFeeds);
        var (down, downFeeds) = Resize("sizes-down", mode, "align_corners");
        OpParity.AssertInputGradient(down, downFeeds);
    }

    [Fact]
    public void ScalesAndRoiAreConstantsNotWeights()
    {
        var g = new OpGraph(13);
        var x = g.Input(1, 2, 5, 7);
        var model = g.Build(g.Op("Resize", new[] { x, g.Floats(0, 0, 0, 0, 1, 1, 1, 1), g.Floats(1, 1, 2, 3) }, Attribute.String("mode", "linear")));
        using (var ex = GraphExecutor.Compile(model)) Assert.Empty(ex.Parameters);
        OpParity.AssertMatches(model, g.Feeds, Interpolated, "with roi");
    }

    [Fact]
    public void CropAndResizeAndAntialiasAreRefusedInOneLine()
    {
        var g = new OpGraph(18);
        var x = g.Input(1, 2, 5, 7);
        var crop = g.Op("Resize", new[] { x, g.Floats(0, 0, 0, 0, 1, 1, 1, 1), g.Floats(1, 1, 2, 2) },
            Attribute.String("mode", "linear"), Attribute.String("coordinate_transformation_mode", "tf_crop_and_resize"));
        var smooth = g.Op("Resize", new[] { x, null, g.Floats(1, 1, 0.5f, 0.5f) }, Attribute.String("mode", "linear"), Attribute.Int("antialias", 1));
        var e = Assert.Throws<UnsupportedOpException>(() => GraphExecutor.Compile(g.Build(crop, smooth)));
        Assert.Equal(
            "the executor cannot run 2 ops of this model: Resize (2 nodes: coordinate_transformation_mode 'tf_crop_and_resize', antialias 1); "
            + "training and fine-tuning need them — export the model without them (keep post-processing outside the graph), or compress it without fine-tuning",
            e.Message);
    }

    /// <summary>A one-node Resize model on a [1,2,5,7] input.</summary>
    private static (Model, IReadOnlyList<Shrink.Runtime.HostTensor>) Resize(string geometry, string mode, string coordinates, params Attribute[] extra)
    {
        var g = new OpGraph(coordinates == "half_pixel_symmetric" ? 19 : 13, seed: geometry.Length);
        var x = g.Input(1, 2, 5, 7);
        Value?[] inputs = geometry switch
        {
            "up" => new[] { x, null, g.Floats(1, 1, 2, 3) },
            "fractional" => new[] { x, null, g.Floats(1, 1, 1.7f, 2.5f) },
            "down" => new[] { x, null, g.Floats(1, 1, 0.6f, 0.5f) },
            "sizes-up" => new[] { x, null, null, g.Ints(1, 2, 9, 11) },
            _ => new[] { x, null, null, g.Ints(1, 2, 3, 4) },
        };
        var attributes = new[] { Attribute.String("mode", mode), Attribute.String("coordinate_transformation_mode", coordinates) }.Concat(extra).ToArray();
        return (g.Build(g.Op("Resize", inputs, attributes)), g.Feeds);
    }
}
