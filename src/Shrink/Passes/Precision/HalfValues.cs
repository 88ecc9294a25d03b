using Shrink.Ir;

namespace Shrink.Passes.Precision;

/// <summary>float32 tensors converted to 16-bit formats, rounding to nearest even.</summary>
internal static class HalfValues
{
    /// <summary>The largest finite float16.</summary>
    public const float MaxFloat16 = 65504f;

    /// <summary>
    /// <paramref name="t"/> in <paramref name="format"/> under <paramref name="name"/>. float16 values beyond ±65504 are clamped
    /// to it (as onnxconverter-common does) and counted in <paramref name="clamped"/>; bfloat16 has float32's range.
    /// </summary>
    public static Tensor Convert(Tensor t, HalfFormat format, string name, ref long clamped)
    {
        using var weight = t.ReadFloats(); // an external weight is read into a reused buffer and stays unloaded
        var values = weight.Values;
        var bytes = new byte[values.Length * 2];
        for (var i = 0; i < values.Length; i++)
        {
            var bits = format == HalfFormat.Float16 ? ToFloat16(values[i], ref clamped) : ToBFloat16(values[i]);
            bytes[2 * i] = (byte)bits;
            bytes[2 * i + 1] = (byte)(bits >> 8);
        }
        return new Tensor(name, format == HalfFormat.Float16 ? DataType.Float16 : DataType.BFloat16, (long[])t.Dims.Clone(), bytes);
    }

    public static DataType TypeOf(HalfFormat format) => format == HalfFormat.Float16 ? DataType.Float16 : DataType.BFloat16;

    private static ushort ToFloat16(float f, ref long clamped)
    {
        if (float.IsFinite(f) && Math.Abs(f) > MaxFloat16)
        {
            clamped++;
            f = Math.Sign(f) * MaxFloat16;
        }
        return BitConverter.HalfToUInt16Bits((Half)f);
    }

    /// <summary>float32 rounded to nearest even on its upper 16 bits; NaN stays a quiet NaN.</summary>
    private static ushort ToBFloat16(float f)
    {
        var bits = BitConverter.SingleToUInt32Bits(f);
        if (float.IsNaN(f)) return (ushort)((bits >> 16) | 0x40);
        var rounding = 0x7FFFu + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }
}
