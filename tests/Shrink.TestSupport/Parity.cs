using Xunit;

namespace Shrink.TestSupport;

/// <summary>Outputs of two engines (ONNX Runtime, the executor, PyTorch's reference) compared as the parity tests compare them.</summary>
internal static class Parity
{
    /// <summary>The largest difference allowed, relative to the largest magnitude of the expected output.</summary>
    public const double Tolerance = 1e-4;

    public static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var scale = Math.Max(1e-6, expected.Max(Math.Abs));
        var worst = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second)) / scale;
        Assert.True(worst <= Tolerance, $"{what}: largest difference {worst:E2} of the output's scale (tolerance {Tolerance:E0})");
    }
}
