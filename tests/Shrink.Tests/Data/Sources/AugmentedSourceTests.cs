using Shrink.Data;
using Shrink.Data.Sources;
using Shrink.Runtime;
using Xunit;

namespace Shrink.Tests.Data.Sources;

/// <summary>Augmentation: seeded by (seed, epoch, index) only; a padded random crop and a flip, exactly; only the training split.</summary>
public class AugmentedSourceTests
{
    /// <summary>n images of 1×4×5 (CHW), value = 1 + sample·100 + y·10 + x, so every pixel is distinct and non-zero.</summary>
    private static InMemorySource Images(int n, bool channelsLast = false)
    {
        var data = new float[n * 20];
        for (var s = 0; s < n; s++)
            for (var y = 0; y < 4; y++)
                for (var x = 0; x < 5; x++) data[s * 20 + y * 5 + x] = 1 + s * 100 + y * 10 + x;
        long[] shape = channelsLast ? [n, 4, 5, 1] : [n, 1, 4, 5];
        return new InMemorySource("pixels", [new HostTensor("image", data, shape)], Enumerable.Repeat(0, n).ToArray(), 1);
    }

    [Fact]
    public void SameSeedEpochAndIndex_ReadTheSame_InAnyBatch_OtherEpochsDiffer()
    {
        var source = new AugmentedSource(Images(16), new AugmentOptions(), seed: 3);

        var all = SourceFiles.All(source, epoch: 1);
        var alone = (float[])source.Read([9], epoch: 1).Inputs[0].Data;
        var otherEpoch = SourceFiles.All(source, epoch: 2);
        var otherSeed = SourceFiles.All(new AugmentedSource(Images(16), new AugmentOptions(), seed: 4), epoch: 1);

        Assert.True(source.Augments);
        Assert.Equal(all.Skip(9 * 20).Take(20), alone);
        Assert.Equal(all, SourceFiles.All(new AugmentedSource(Images(16), new AugmentOptions(), seed: 3), epoch: 1));
        Assert.NotEqual(all, otherEpoch);
        Assert.NotEqual(all, otherSeed);
    }

    [Fact]
    public void EachSample_IsAShiftedWindowOfItself_FilledOutside_MirroredOrNot()
    {
        var plain = SourceFiles.All(Images(32));
        var augmented = SourceFiles.All(new AugmentedSource(Images(32), new AugmentOptions { Padding = 2 }, seed: 0, fill: [-1f]), epoch: 5);

        var (flips, shifts) = (0, 0);
        for (var s = 0; s < 32; s++)
        {
            var match = Windows(plain.AsSpan(s * 20, 20).ToArray(), 2).Where(w => w.Pixels.SequenceEqual(augmented.Skip(s * 20).Take(20))).ToList();
            Assert.NotEmpty(match); // some (dy, dx, flip) in [−2, 2]² × {no, yes} gives exactly this sample
            flips += match.Any(m => m.Flip) ? 1 : 0;
            shifts += match.Any(m => m.Dy != 0 || m.Dx != 0) ? 1 : 0;
        }
        Assert.InRange(flips, 8, 24);  // half of 32 flipped: a binomial within ±2.8σ
        Assert.InRange(shifts, 24, 32); // 24 of the 25 shifts are not (0, 0)
    }

    /// <summary>Every padded crop of a 4×5 image at offsets in [−p, p]², flipped or not.</summary>
    private static IEnumerable<(int Dy, int Dx, bool Flip, float[] Pixels)> Windows(float[] image, int p)
    {
        for (var dy = -p; dy <= p; dy++)
            for (var dx = -p; dx <= p; dx++)
                foreach (var flip in new[] { false, true })
                {
                    var w = new float[20];
                    for (var y = 0; y < 4; y++)
                        for (var x = 0; x < 5; x++)
                        {
                            var (sy, sx) = (y + dy, (flip ? 4 - x : x) + dx);
                            w[y * 5 + x] = sy is >= 0 and < 4 && sx is >= 0 and < 5 ? image[sy * 5 + sx] : -1f;
                        }
                    yield return (dy, dx, flip, w);
                }
    }

    [Fact]
    public void ChannelsLast_IsFlippedAlongTheWidth()
    {
        var plain = SourceFiles.All(Images(8, channelsLast: true));
        var flipped = SourceFiles.All(new AugmentedSource(Images(8, channelsLast: true), new AugmentOptions { Padding = 0 }, seed: 0, ImageLayout.Nhwc));

        for (var s = 0; s < 8; s++)
        {
            var image = plain.Skip(s * 20).Take(20).ToArray();
            var mirror = Enumerable.Range(0, 20).Select(i => image[i / 5 * 5 + 4 - i % 5]);
            var got = flipped.Skip(s * 20).Take(20).ToArray();
            Assert.True(got.SequenceEqual(image) || got.SequenceEqual(mirror), $"sample {s} is neither itself nor its mirror");
        }
    }

    [Fact]
    public void OpenWithAugment_AugmentsTheTrainingSplitOnly_IdxToo()
    {
        var splits = DataSources.Open("embedded", new DataOptions { Augment = new AugmentOptions(), Seed = 2 });

        Assert.True(splits.Train.Augments);
        Assert.False(splits.Test.Augments);
        Assert.Contains("augmented (padding 4, flip, seed 2)", splits.Train.Name);
        Assert.NotEqual(splits.Train.Read([0, 1, 2, 3], 0).Inputs[0].Data.Cast<float>(), splits.Train.Read([0, 1, 2, 3], 1).Inputs[0].Data.Cast<float>());
    }

    [Fact]
    public void DataThatIsNotImages_IsRefused_NamingTheOption()
    {
        var table = new InMemorySource("table", [new HostTensor("features", new float[12], [3, 4])]);

        var e = Assert.Throws<OptionsException>(() => new AugmentedSource(table, new AugmentOptions(), 0));

        Assert.Equal("Augment", e.Option);
        Assert.Equal("augment applies to images (one float32 input of [C, H, W] or [H, W, C]); table gives features: float32[4]; remove it", e.Message);
    }
}
