using System.IO.Compression;
using Shrink.Data;
using Shrink.Data.Sources;
using Shrink.Ir;
using Xunit;

namespace Shrink.Tests.Data.Sources;

/// <summary>NumPy sources: x.npy read by rows with y.npy beside it, .npz archives (stored or deflated) named like the model's inputs, and their bad inputs.</summary>
public class NumpySourceTests
{
    private static void Npz(string path, CompressionLevel level, params (string Name, NpyArray Array)[] arrays)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, array) in arrays)
        {
            using var stream = zip.CreateEntry(name + ".npy", level).Open();
            NpyFile.Write(stream, array);
        }
    }

    private static NpyArray Int32(int[] values, long[]? shape = null) => new(NpyDType.Int32, shape ?? [values.Length], values.SelectMany(BitConverter.GetBytes).ToArray());

    [Fact]
    public void XNpy_IsReadByRows_WithTheLabelsOfYNpy()
    {
        using var dir = new TempDirectory();
        NpyFile.Write(dir.File("x.npy"), NpyArray.FromFloat32(Enumerable.Range(0, 5 * 6).Select(i => i * 0.5f).ToArray(), [5, 2, 3]));
        NpyFile.Write(dir.File("y.npy"), NpyArray.FromInt64([0, 3, 1, 1, 2], [5]));

        var source = NpySource.Open(dir.File("x.npy"));
        var batch = source.Read([4, 1]);

        Assert.Equal("x: float32[2,3]", source.Inputs[0].ToString());
        Assert.Equal(4, source.ClassCount); // the largest label plus one
        Assert.Equal([2, 3], batch.Labels);
        Assert.Equal(new[] { 24, 25, 26, 27, 28, 29, 6, 7, 8, 9, 10, 11 }.Select(i => i * 0.5f), (float[])batch.Inputs[0].Data);
        Assert.Equal($"NumPy array {dir.File("x.npy")}: 5 samples of x: float32[2,3], 4 classes (y.npy)", source.Name);
    }

    [Fact]
    public void ADirectoryHoldingXNpy_OpensAsIt_AndClassCountCanBeGiven()
    {
        using var dir = new TempDirectory();
        NpyFile.Write(dir.File("x.npy"), NpyArray.FromInt64(Enumerable.Range(0, 8).Select(i => (long)i).ToArray(), [4, 2]));
        NpyFile.Write(dir.File("y.npy"), Int32([0, 1, 0, 1]));

        var splits = DataSources.Open(dir.Path, new DataOptions { ClassCount = 10 });

        Assert.Equal(10, splits.Train.ClassCount);
        Assert.Equal(DataType.Int64, splits.Train.Inputs[0].ElementType);
        Assert.Equal([6L, 7L], (long[])splits.Test.Read([3]).Inputs[0].Data);
    }

    [Fact]
    public void LabelOutOfRange_NamesTheSample()
    {
        using var dir = new TempDirectory();
        NpyFile.Write(dir.File("x.npy"), NpyArray.FromFloat32(new float[6], [3, 2]));
        NpyFile.Write(dir.File("y.npy"), Int32([0, 1, 7]));

        var e = Assert.Throws<DataException>(() => NpySource.Open(dir.File("x.npy"), new DataOptions { ClassCount = 5 }));
        var negative = Assert.Throws<DataException>(() => { NpyFile.Write(dir.File("y.npy"), Int32([0, -1, 1])); NpySource.Open(dir.File("x.npy")); });

        Assert.Equal($"{dir.File("y.npy")}: label 7 of sample 2 is outside [0, 5); the labels do not match the inputs or the file is corrupt", e.Message);
        Assert.Equal($"{dir.File("y.npy")}: label -1 of sample 1 is out of range; class indices run from 0 to the number of classes less one", negative.Message);
    }

    [Theory]
    [InlineData(CompressionLevel.NoCompression)]
    [InlineData(CompressionLevel.Optimal)]
    public void Npz_GivesTheModelsInputsByName_TokenIdsAndLabels(CompressionLevel level)
    {
        using var dir = new TempDirectory();
        var path = dir.File("tokens.npz");
        Npz(path, level,
            ("attention_mask", NpyArray.FromInt64([1, 1, 0, 1, 1, 1], [2, 3])),
            ("input_ids", Int32([5, 6, 7, 8, 9, 10], [2, 3])),
            ("extra", NpyArray.FromFloat32([1f, 2f], [2])),
            ("labels", NpyArray.FromInt64([1, 0], [2])));

        var source = NpzSource.Open(path, model: SourceFiles.TokenModel());
        var batch = source.Read([1, 0]);

        Assert.Equal(["input_ids", "attention_mask"], source.Inputs.Select(i => i.Name));
        Assert.Equal([8, 9, 10, 5, 6, 7], (int[])batch.Input("input_ids").Data);
        Assert.Equal([1L, 1, 1, 1, 1, 0], (long[])batch.Input("attention_mask").Data);
        Assert.Equal([0, 1], batch.Labels);
        Assert.Null(DataBinding.Misfit(SourceFiles.TokenModel(), source));
        Assert.Equal(["attention_mask", "extra", "input_ids"], NpzSource.Open(path).Inputs.Select(i => i.Name)); // no model: every array but the labels
    }

    [Fact]
    public void Npz_MissingAModelInput_NamesItAndWhatItHas()
    {
        using var dir = new TempDirectory();
        var path = dir.File("tokens.npz");
        Npz(path, CompressionLevel.Optimal, ("input_ids", Int32([1, 2])), ("labels", NpyArray.FromInt64([0, 0], [2])));

        var e = Assert.Throws<DataException>(() => DataSources.Open(path, model: SourceFiles.TokenModel()));

        Assert.Equal($"'{path}' has no array 'attention_mask' for the model's input of that name; it has input_ids, labels; save one array per model input, named like it", e.Message);
    }

    [Fact]
    public void Npz_ArraysDisagreeingOnN_AreOneLine()
    {
        using var dir = new TempDirectory();
        var path = dir.File("bad.npz");
        Npz(path, CompressionLevel.Optimal, ("a", NpyArray.FromFloat32(new float[6], [3, 2])), ("b", NpyArray.FromFloat32(new float[4], [2, 2])));

        var e = Assert.Throws<DataException>(() => NpzSource.Open(path));

        Assert.Equal($"'{path}': array 'b' has shape (2, 2) but 'a' holds 3 samples; give every array the same number of samples on axis 0", e.Message);
    }

    [Fact]
    public void NotAZip_IsOneLine()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("x.npz"), "not a zip");

        var e = Assert.Throws<DataException>(() => DataSources.Open(dir.File("x.npz")));

        Assert.StartsWith($"'{dir.File("x.npz")}' is not a readable .npz (zip) file (", e.Message);
    }
}
