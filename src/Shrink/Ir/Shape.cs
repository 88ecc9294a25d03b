namespace Shrink.Ir;

/// <summary>One dimension of a shape: a known size, a symbolic name (such as a dynamic batch), or unknown.</summary>
public readonly record struct Dim(long? Value, string? Param = null, string? Denotation = null)
{
    /// <summary>A dimension of known size.</summary>
    public static Dim Of(long value) => new(value);

    /// <summary>A symbolic dimension, such as <c>batch</c>.</summary>
    public static Dim Symbol(string name) => new(null, name);

    /// <summary>A dimension nothing is known about.</summary>
    public static Dim Unknown => new(null);

    /// <summary>True when the size is a known number.</summary>
    public bool IsKnown => Value.HasValue;

    public override string ToString() => Value?.ToString() ?? Param ?? "?";
}

/// <summary>The shape of a tensor value: a rank and one <see cref="Dim"/> per axis.</summary>
public sealed class Shape : IEquatable<Shape>
{
    private readonly Dim[] _dims;

    public Shape(IEnumerable<Dim> dims) => _dims = dims.ToArray();

    /// <summary>A fully known shape.</summary>
    public static Shape Of(params long[] dims) => new(dims.Select(Dim.Of));

    public int Rank => _dims.Length;
    public Dim this[int axis] => _dims[axis];
    public IReadOnlyList<Dim> Dims => _dims;

    /// <summary>True when every dimension is a known number.</summary>
    public bool IsFullyKnown => _dims.All(d => d.IsKnown);

    /// <summary>The dimensions as numbers; throws when one is not known.</summary>
    public long[] ToArray() => _dims.Select(d => d.Value ?? throw new InvalidOperationException($"shape {this} is not fully known")).ToArray();

    /// <summary>Product of the known dimensions, or null when one is unknown.</summary>
    public long? ElementCount => IsFullyKnown ? _dims.Aggregate(1L, (a, d) => checked(a * d.Value!.Value)) : null;

    public bool Equals(Shape? other) => other is not null && _dims.Select(d => (d.Value, d.Param)).SequenceEqual(other._dims.Select(d => (d.Value, d.Param)));
    public override bool Equals(object? obj) => Equals(obj as Shape);
    public override int GetHashCode() => _dims.Aggregate(Rank, (h, d) => HashCode.Combine(h, d.Value, d.Param));
    public override string ToString() => "[" + string.Join(",", _dims) + "]";
}
