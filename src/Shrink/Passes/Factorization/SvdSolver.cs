using MathNet.Numerics.LinearAlgebra;

namespace Shrink.Passes.Factorization;

/// <summary>
/// What computes the singular value decompositions M = U·diag(S)·Vᵀ of <see cref="LowRankPass"/>. <see cref="ManagedSvd"/>
/// (Math.NET, in this library) is the default; Shrink.Training's <c>TorchSvd</c> runs LAPACK through libtorch, about 20×
/// faster on a 1024×1024 layer, and the <c>factorize</c> technique uses it. Both give the same factors up to the sign of
/// each pair of singular vectors (which the product does not see) and rounding.
/// </summary>
public interface ISvdSolver
{
    /// <summary>
    /// Decomposes the m×n matrix M whose float32 values are <paramref name="values"/>: row-major, or, with
    /// <paramref name="columnMajor"/>, column-major (the row-major values of Mᵀ, as a dense weight stored [N, K] holds them).
    /// The values are copied: the caller may reuse their buffer once this returns.
    /// </summary>
    SvdFactors Decompose(ReadOnlySpan<float> values, int m, int n, bool columnMajor);
}

/// <summary>One decomposition: the singular values, and the two factors of a truncation to any rank.</summary>
public abstract class SvdFactors : IDisposable
{
    /// <summary>The singular values, descending (min(m, n) of them).</summary>
    public abstract double[] SingularValues { get; }

    /// <summary>
    /// M ≈ L·R at rank r: writes L = U_r·√S_r (m×r, row-major) into <paramref name="left"/> and R = √S_r·V_rᵀ (r×n, row-major)
    /// into <paramref name="right"/>, computed in float64 and rounded once to float32.
    /// </summary>
    public abstract void Factors(int rank, Span<float> left, Span<float> right);

    public virtual void Dispose() { }
}

/// <summary>Math.NET's managed SVD (one thread): no native library needed; about 14 s for a 1024×1024 matrix on a 2-core Xeon.</summary>
public sealed class ManagedSvd : ISvdSolver
{
    public static readonly ManagedSvd Instance = new();

    private ManagedSvd() { }

    public SvdFactors Decompose(ReadOnlySpan<float> values, int m, int n, bool columnMajor)
    {
        var storage = new double[(long)m * n];   // Math.NET's storage is column-major
        if (columnMajor)
            for (var i = 0; i < storage.Length; i++) storage[i] = values[i];
        else
            for (long i = 0; i < m; i++)
                for (long j = 0; j < n; j++)
                    storage[j * m + i] = values[(int)(i * n + j)];
        return new Factorization(Matrix<double>.Build.Dense(m, n, storage).Svd(true));
    }

    private sealed class Factorization(MathNet.Numerics.LinearAlgebra.Factorization.Svd<double> svd) : SvdFactors
    {
        private readonly double[] _s = svd.S.ToArray();

        public override double[] SingularValues => _s;

        public override void Factors(int rank, Span<float> left, Span<float> right)
        {
            var (m, n) = (svd.U.RowCount, svd.VT.ColumnCount);
            for (var i = 0; i < m; i++)
                for (var j = 0; j < rank; j++)
                    left[i * rank + j] = (float)(svd.U[i, j] * Math.Sqrt(_s[j]));
            for (var i = 0; i < rank; i++)
                for (var j = 0; j < n; j++)
                    right[i * n + j] = (float)(Math.Sqrt(_s[i]) * svd.VT[i, j]);
        }
    }
}
