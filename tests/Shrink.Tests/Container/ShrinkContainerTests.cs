using Shrink.Container;
using Shrink.Data;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Passes;
using Shrink.Passes.Pruning;
using Shrink.Passes.Sharing;
using Shrink.Runtime;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Container;

/// <summary>Weight sharing and the .shrink container: exact round trips, the stage sizes, and a decoder that survives damage.</summary>
public class ShrinkContainerTests
{

    [Fact]
    public void KMeansFindsSeparatedGroupsAndKeepsZeros()
    {
        var values = new[] { -1.02f, -0.98f, -1f, 2f, 2.1f, 1.9f, 5f };
        var c = KMeans1D.Fit(values, 3);
        Assert.Equal(3, c.Length);
        Assert.Equal(-1f, c[0], 3);
        Assert.Equal(2f, c[1], 3);
        Assert.Equal(5f, c[2], 3);
        Assert.Equal(new[] { 1f, 2f }, KMeans1D.Fit(new[] { 1f, 2f, 2f }, 8)); // fewer distinct values than clusters
        Assert.Equal(3, KMeans1D.Fit(values, 3, CentroidInit.Density).Length);

        var model = ModelZoo.Create("lenet300", seed: 3);
        model = new UnstructuredPrunePass(new UnstructuredPruneOptions { Sparsity = 0.8, Scope = PruneScope.Global }).Run(model, new PassContext()).Model;
        var zeros = PrunableWeights.Find(model).Select(w => w.Tensor.AsFloats().ToArray().Count(v => v == 0)).ToList();
        model = new ClusterPass(new ClusterOptions { Bits = 4 }).Run(model, new PassContext()).Model;
        var weights = PrunableWeights.Find(model);
        for (var i = 0; i < weights.Count; i++)
        {
            var t = weights[i].Tensor.AsFloats().ToArray();
            Assert.InRange(t.Where(v => v != 0).Distinct().Count(), 2, 16);
            Assert.Equal(zeros[i], t.Count(v => v == 0)); // zeros stay zero, and no weight becomes zero
        }
        Assert.Equal(3, ClusterPass.ReadBits(model).Count);
    }

    [Theory]
    [InlineData("lenet300", 0.9, 5)]
    [InlineData("lenet5", 0.9, 5)]
    [InlineData("lenet5", 0.0, 3)]
    public void ContainerRestoresTheClusteredModelExactly(string zoo, double sparsity, int bits)
    {
        var model = TestModels.Clustered(zoo, sparsity, bits);
        var packed = ShrinkContainer.Pack(model);
        var back = ShrinkContainer.Unpack(packed.Bytes);
        foreach (var v in model.Graph.Initializers)
        {
            var expected = v.Const!.RawData.ToArray();
            var actual = back.Graph.FindInitializer(v.Name)!.Const!.RawData.ToArray();
            var first = Enumerable.Range(0, Math.Min(expected.Length, actual.Length)).FirstOrDefault(i => expected[i] != actual[i], -1);
            Assert.True(expected.Length == actual.Length && first < 0,
                $"{v.Name}: {expected.Length} and {actual.Length} bytes, first difference at byte {first}" +
                (first >= 0 ? $": {BitConverter.ToSingle(expected, first / 4 * 4)} against {BitConverter.ToSingle(actual, first / 4 * 4)}" : ""));
        }
        // Bit for bit the same outputs in ONNX Runtime.
        using var a = OnnxRunner.FromModel(model);
        using var b = OnnxRunner.FromModel(back);
        var inputs = a.RandomInputs(4, seed: 2);
        Assert.Equal((float[])a.Run(inputs)[0].Data, (float[])b.Run(inputs)[0].Data);
        // Stages shrink in order, and the file is far below the float model.
        var floatBytes = OnnxWriter.ToBytes(ModelZoo.Create(zoo, seed: 3)).Length;
        // (Huffman coding cannot beat fixed-width codes of near-uniform indices: the code tables may cost a little then.)
        Assert.True(packed.PrunedBytes > packed.ClusteredBytes && packed.ClusteredBytes * 1.01 > packed.Bytes.Length,
            $"stages {packed.PrunedBytes} > {packed.ClusteredBytes} > {packed.Bytes.Length}");
        if (sparsity >= 0.9) Assert.True(floatBytes / (double)packed.Bytes.Length > 25, $"{zoo}: {floatBytes} → {packed.Bytes.Length}");
        Assert.NotEmpty(packed.Tensors);
        Assert.All(packed.Tensors, t => Assert.InRange(t.IndexBits, 1, 8));
    }

    [Fact]
    public void ZeroTailsAreCoveredByFillerEntries()
    {
        // A weight whose second half is pruned and one pruned whole: filler entries carry the positions to the end.
        var model = TestModels.Clustered("lenet300", 0.9, 4);
        var weights = PrunableWeights.Find(model);
        foreach (var (w, keep) in new[] { (weights[0], 0.5), (weights[2], 0.0) })
        {
            var values = w.Tensor.AsFloats().ToArray();
            for (var i = (int)(values.Length * keep); i < values.Length; i++) values[i] = 0;
            w.Weight.Const = Tensor.FromFloats(w.Weight.Name, w.Tensor.Dims, values);
        }
        var packed = ShrinkContainer.Pack(model);
        var back = ShrinkContainer.Unpack(packed.Bytes);
        foreach (var w in new[] { weights[0], weights[2] })
        {
            Assert.Equal(w.Weight.Const!.AsFloats().ToArray(), back.Graph.FindInitializer(w.Weight.Name)!.Const!.AsFloats().ToArray());
            var info = packed.Tensors.Single(t => t.Name == w.Weight.Name);
            Assert.True((info.Entries + 1) << info.IndexBits > info.Elements, $"{info.Name}: {info.Entries} entries of {1 << info.IndexBits} for {info.Elements}");
        }
        // Version 1 (implicit zero tails) is refused with what to do.
        var v1 = packed.Bytes.ToArray();
        v1[4] = 1;
        Assert.Contains("pack the clustered model again", Assert.Throws<ModelFormatException>(() => ShrinkContainer.Unpack(v1)).Message);
    }

    [Fact]
    public void DamagedContainersAreRejectedNeverCrash()
    {
        var model = TestModels.Clustered("lenet300", 0.95, 4);
        var good = ShrinkContainer.Pack(model).Bytes;
        Assert.Contains("bad magic", Assert.Throws<ModelFormatException>(() => ShrinkContainer.Unpack(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 })).Message);
        var version = good.ToArray();
        version[4] = 9;
        Assert.Contains("version 9", Assert.Throws<ModelFormatException>(() => ShrinkContainer.Unpack(version)).Message);
        var flipped = good.ToArray();
        flipped[good.Length / 2] ^= 0x10;
        Assert.Contains("CRC mismatch", Assert.Throws<ModelFormatException>(() => ShrinkContainer.Unpack(flipped)).Message);
        Assert.Contains("truncated", Assert.Throws<ModelFormatException>(() => ShrinkContainer.Unpack(good[..(good.Length - 7)])).Message);

        // A weight section repeated (with a valid CRC and section count) is refused before it is decoded twice.
        var pos = 8;
        var sections = new List<byte[]>();
        while (pos < good.Length)
        {
            var length = (int)BitConverter.ToUInt32(good, pos + 1);
            sections.Add(good[pos..(pos + 9 + length)]);
            pos += 9 + length;
        }
        var twice = good[..6].Concat(BitConverter.GetBytes((ushort)(sections.Count + 1))).Concat(sections.SelectMany(x => x)).Concat(sections[^1]).ToArray();
        Assert.Contains("appears twice", Assert.Throws<ModelFormatException>(() => ShrinkContainer.Unpack(twice)).Message);
        var reordered = good[..8].Concat(sections.Skip(1).SelectMany(x => x)).Concat(sections[0]).ToArray();
        Assert.Contains("before the model section", Assert.Throws<ModelFormatException>(() => ShrinkContainer.Unpack(reordered)).Message);

        // Bounded fuzzing: random flips, truncations and insertions; with the CRCs left stale, and recomputed so the
        // structural checks behind them are reached. Every outcome is a clean result or a ModelFormatException.
        var random = new Random(11);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var rejected = 0;
        for (var trial = 0; trial < 1500; trial++)
        {
            var bytes = good.ToList();
            var edits = 1 + random.Next(4);
            for (var e = 0; e < edits; e++)
            {
                var at = random.Next(bytes.Count);
                switch (random.Next(4))
                {
                    case 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                    case 1: bytes[at] = (byte)random.Next(256); break;
                    case 2: bytes.RemoveRange(at, Math.Min(bytes.Count - at, 1 + random.Next(16))); break;
                    default: bytes.Insert(at, (byte)random.Next(256)); break;
                }
                if (bytes.Count == 0) bytes.Add(0);
            }
            var mutated = bytes.ToArray();
            if (trial % 2 == 1) FixCrcs(mutated);
            try
            {
                ShrinkContainer.Unpack(mutated);
            }
            catch (ModelFormatException)
            {
                rejected++;
            }
        }
        Assert.True(rejected > 1000, $"only {rejected} of 1500 damaged containers were rejected");
        Assert.True(watch.Elapsed.TotalSeconds < 60, $"fuzzing took {watch.Elapsed.TotalSeconds:F0} s");
    }

    /// <summary>Recomputes every section's CRC where the section structure still parses.</summary>
    internal static void FixCrcs(byte[] bytes)
    {
        var pos = 8;
        while (bytes.Length - pos >= 9)
        {
            var length = BitConverter.ToUInt32(bytes, pos + 1);
            if (length > bytes.Length - pos - 9) return;
            var crc = System.IO.Hashing.Crc32.HashToUInt32(bytes.AsSpan(pos, 5 + (int)length));
            BitConverter.GetBytes(crc).CopyTo(bytes, pos + 5 + (int)length);
            pos += 9 + (int)length;
        }
    }
}

/// <summary>Deep Compression's relative index: entries counted by hand, and the same entries the container codes.</summary>
public class RelativeIndexTests
{
    [Fact]
    public void Gaps_longer_than_the_field_take_filler_entries_and_the_smallest_form_is_chosen()
    {
        // 20 elements, non-zeros at 0, 9 and 19: gaps 1, 9, 10 take ⌈g / 2^b⌉ entries each.
        int[] positions = [0, 9, 19];
        Assert.Equal(new[] { (0, 0), (3, -1), (3, -1), (0, 9), (3, -1), (3, -1), (1, 19) }, RelativeIndex.Entries(positions, 20, 2).ToArray());
        Assert.Equal(new[] { 11, 7, 5, 3 }, Enumerable.Range(1, 4).Select(b => RelativeIndex.Entries(positions, 20, b).Count()));
        // A zero tail is carried to within one gap of the end.
        Assert.Equal(new[] { (0, 0), (3, -1), (3, -1) }, RelativeIndex.Entries([0], 12, 2).ToArray());
        // 32-bit values: b = 4 takes 3 · 36 bits = 14 bytes, the least (b = 5 ties and the narrower field is kept).
        Assert.Equal((4, 3L, 14L), RelativeIndex.Smallest(positions, 20, 32));
    }

    [Fact]
    public void The_container_codes_the_same_entries()
    {
        var model = TestModels.Clustered("lenet300", 0.9, 4);
        var packed = ShrinkContainer.Pack(model);
        foreach (var info in packed.Tensors)
        {
            var values = model.Graph.FindInitializer(info.Name)!.Const!.AsFloats().ToArray();
            var positions = Enumerable.Range(0, values.Length).Where(i => values[i] != 0).ToArray();
            Assert.Equal(info.Entries, RelativeIndex.Entries(positions, values.Length, info.IndexBits).Count());
        }
    }
}
