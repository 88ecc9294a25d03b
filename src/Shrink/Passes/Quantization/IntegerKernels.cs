using System.Runtime.Intrinsics.X86;

namespace Shrink.Passes.Quantization;

/// <summary>
/// What ONNX Runtime's integer kernels (MLAS) do on the CPU running this process. On x86 without VNNI
/// (AVX2, or AVX-512 without AVX512-VNNI) the u8×s8 kernels multiply with VPMADDUBSW, which adds two
/// u8·s8 products into a saturating int16: 2·255·127 = 64,770 overflows 32,767, so full-range int8
/// weights against large activations come out wrong. With weights in ±64 (2·255·64 = 32,640) the sums
/// fit. AVX-VNNI and AVX512-VNNI (VPDPBUSD, int32 sums) and ARM's kernels are exact. The dispatch
/// mirrors MLAS's: AVX-512 core (F, BW, DQ, VL) picks its own kernel, VNNI or not, over AVX-VNNI's.
/// </summary>
public static class IntegerKernels
{
    /// <summary>True where ONNX Runtime's u8×s8 kernels saturate full-range int8 weights (x86 without VNNI).</summary>
    public static bool U8S8Saturates { get; } = Saturates();

    private static bool Saturates()
    {
        if (!X86Base.IsSupported) return false;
        if (Avx512F.IsSupported && Avx512BW.IsSupported && Avx512DQ.IsSupported && Avx512F.VL.IsSupported)
            return (X86Base.CpuId(7, 0).Ecx & 0x800) == 0; // CPUID.(EAX=7, ECX=0):ECX bit 11, AVX512-VNNI
        return !AvxVnni.IsSupported;
    }
}
