using System.Runtime.InteropServices;
using Shrink.Passes.Factorization;
using Shrink.Runtime;
using TorchSharp;

namespace Shrink.Training.Factorization;

/// <summary>
/// The SVDs of <see cref="LowRankPass"/> by LAPACK through libtorch (<c>torch.linalg.svd</c>, float64, thin) on libtorch's
/// intra-op threads: under a second for a 1024×1024 layer on a 2-core Xeon where Math.NET's managed SVD takes about 14 s,
/// so a model of hundreds of such layers is factorized in minutes, not hours. Every matrix lives in native memory, freed as
/// soon as its factors are written (and the C heap trimmed): the managed heap sees only the singular values and the two factors.
/// </summary>
public sealed class TorchSvd : ISvdSolver
{
    public static readonly TorchSvd Instance = new();

    private TorchSvd() { }

    public SvdFactors Decompose(ReadOnlySpan<float> values, int m, int n, bool columnMajor)
    {
        TorchRuntime.EnsureInitialized();
        using var scope = torch.NewDisposeScope();
        var stored = torch.empty(columnMajor ? new long[] { n, m } : new long[] { m, n }, torch.float32);
        MemoryMarshal.AsBytes(values).CopyTo(stored.bytes);  // straight into the native tensor
        var (u, s, vh) = torch.linalg.svd((columnMajor ? stored.t() : stored).to(torch.float64), fullMatrices: false);
        var singular = s.data<double>().ToArray();   // read before u and vh leave the scope, so a failure here frees them too
        return new Factorization(u.DetachFromDisposeScope(), singular, vh.DetachFromDisposeScope());
    }

    private sealed class Factorization(torch.Tensor u, double[] s, torch.Tensor vh) : SvdFactors
    {
        public override double[] SingularValues => s;

        public override void Factors(int rank, Span<float> left, Span<float> right)
        {
            using var scope = torch.NewDisposeScope();
            using var root = torch.tensor(s[..rank], torch.float64).sqrt();
            var l = u.narrow(1, 0, rank).mul(root.unsqueeze(0)).to(torch.float32).contiguous();
            var r = vh.narrow(0, 0, rank).mul(root.unsqueeze(1)).to(torch.float32).contiguous();
            l.bytes.CopyTo(MemoryMarshal.AsBytes(left));
            r.bytes.CopyTo(MemoryMarshal.AsBytes(right));
        }

        public override void Dispose()
        {
            u.Dispose();
            vh.Dispose();
            NativeHeap.Trim(); // LAPACK's workspaces and the float64 copies were freed into the C heap; give its pages back
        }
    }
}
