using System.Text;
using Shrink.Search;
using Xunit;

namespace Shrink.Tests.Search;

/// <summary>
/// Trees of files in the <see cref="ArtifactStore"/> (a trial's folder, a data directory) and <see cref="TrialFiles"/>: a worker
/// publishes a trial's folder, the coordinator writes it into its run directory; hashes are checked and paths stay inside.
/// </summary>
public class ArtifactTreeTests
{
    private static string Write(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void A_published_trial_folder_is_written_into_the_coordinators_run_directory_file_for_file()
    {
        using var dir = new TempDirectory();
        var artifacts = new ArtifactStore(dir.File("shared"));
        Write(dir.File("worker/trials/0002/01-prune.onnx"), "first stage");
        Write(dir.File("worker/trials/0002/01-prune.json"), "{\"training\": 1}");
        Write(dir.File("worker/trials/0002/02-quantize.onnx"), "the model");
        Write(dir.File("worker/trials/0002/sub/notes.txt"), "nested");
        var published = TrialFiles.Publish(TrialResult.Completed(new Dictionary<string, double> { ["bytes"] = 10 }, "trials/0002/02-quantize.onnx"), dir.File("worker"), artifacts);

        Assert.Equal(artifacts.Put(dir.File("worker/trials/0002/02-quantize.onnx")), published.ModelPath);
        Assert.Equal("trials/0002/02-quantize.onnx", published.Attributes[TrialFiles.Path]);
        var trial = new Trial
        {
            Id = 1, Number = 1, Configuration = Configuration.Of(("x", 1)), Budget = 1, Status = TrialStatus.Completed, Origin = "random",
            Created = DateTimeOffset.UtcNow, ModelPath = published.ModelPath, Attributes = published.Attributes,
        };
        var local = TrialFiles.Localize(trial, dir.File("run"), artifacts);

        Assert.Equal("trials/0002/02-quantize.onnx", local.ModelPath);
        Assert.Equal("the model", File.ReadAllText(dir.File("run/trials/0002/02-quantize.onnx")));
        Assert.Equal("{\"training\": 1}", File.ReadAllText(dir.File("run/trials/0002/01-prune.json")));
        Assert.Equal("nested", File.ReadAllText(dir.File("run/trials/0002/sub/notes.txt")));
        Assert.Equal(["01-prune.json", "01-prune.onnx", "02-quantize.onnx"], Directory.GetFiles(dir.File("run/trials/0002")).Select(Path.GetFileName).Order());
        Assert.Empty(Directory.GetDirectories(dir.File("run/trials"), "*.part-*"));
    }

    [Fact]
    public void A_tree_with_a_damaged_file_or_a_path_outside_its_directory_is_refused_and_nothing_is_written()
    {
        using var dir = new TempDirectory();
        var artifacts = new ArtifactStore(dir.File("shared"));
        Write(dir.File("data/a.npy"), "samples");
        var tree = artifacts.PutTree(dir.File("data"));
        Assert.Equal("samples", File.ReadAllText(Path.Combine(artifacts.OpenPath(tree, dir.File("scratch")), "a.npy")));

        var kept = artifacts.Open(artifacts.Put(dir.File("data/a.npy")));
        File.WriteAllText(kept, "damaged");
        var damaged = Assert.Throws<TrialStoreException>(() => artifacts.OpenTree(tree, dir.File("copy")));
        Assert.StartsWith($"the artifact {kept} is damaged: its content hashes to sha256:", damaged.Message);
        Assert.False(Directory.Exists(dir.File("copy")));

        var escape = artifacts.Put(Encoding.UTF8.GetBytes($"{{\"../evil.txt\": \"{artifacts.Put(Write(dir.File("x.txt"), "x"))}\"}}"), ArtifactStore.TreeExtension);
        var outside = Assert.Throws<TrialStoreException>(() => artifacts.OpenTree(escape, dir.File("copy")));
        Assert.Equal($"the tree {escape} names '../evil.txt', outside its directory; it was not written by Shrink", outside.Message);
        Assert.False(File.Exists(dir.File("evil.txt")));
    }
}
