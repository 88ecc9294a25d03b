using System.Text;
using Shrink.Onnx;
using Shrink.Recipes;
using Shrink.Runtime;
using Shrink.Search;
using Shrink.Zoo;
using Xunit;

namespace Shrink.Tests.Search;

/// <summary>
/// Trees of files in the <see cref="ArtifactStore"/> (a trial's folder, a data directory, a model with its external data) and
/// <see cref="TrialFiles"/>: a worker publishes a trial's folder, the coordinator writes it into its run directory; hashes are
/// checked, paths stay inside the trial's own folder, and a trial whose artifacts are damaged fails alone.
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

    /// <summary>Trial <paramref name="number"/> (0-based) as a worker finished it: its folder <c>worker/trials/NNNN/</c> published, its model at <paramref name="relative"/>.</summary>
    private static Trial Published(TempDirectory dir, ArtifactStore artifacts, int number, string relative, string content)
    {
        Write(Path.Combine(dir.File("worker"), relative), content);
        var published = TrialFiles.Publish(TrialResult.Completed(new Dictionary<string, double> { ["bytes"] = 10 }, relative), dir.File("worker"), artifacts);
        return new Trial
        {
            Id = number + 1, Number = number, Configuration = Configuration.Of(("x", number)), Budget = 1, Status = TrialStatus.Completed, Origin = "random",
            Created = DateTimeOffset.UtcNow, ModelPath = published.ModelPath, Attributes = published.Attributes,
        };
    }

    [Theory]
    [InlineData("x.onnx")]                    // the run directory itself, which the tree would replace
    [InlineData("trials/x.onnx")]             // the folder of every trial
    [InlineData("trials/0003/x.onnx")]        // another trial's folder
    [InlineData("trials/0002/sub/x.onnx")]    // a folder inside the trial's
    public void A_model_path_that_is_not_a_file_of_the_trials_own_folder_is_refused_and_the_run_directory_is_untouched(string relative)
    {
        using var dir = new TempDirectory();
        var artifacts = new ArtifactStore(dir.File("shared"));
        var trial = Published(dir, artifacts, 1, relative, "the model");
        Write(dir.File("run/options.json"), "{}");
        Write(dir.File("run/trials/0003/x.onnx"), "trial 3's model");

        var e = Assert.Throws<TrialStoreException>(() => TrialFiles.Localize(trial, dir.File("run"), artifacts));

        Assert.Equal($"trial 2 names the path '{relative}', not a file of its folder trials/0002/; it was written by another program", e.Message);
        Assert.Equal("{}", File.ReadAllText(dir.File("run/options.json")));
        Assert.Equal("trial 3's model", File.ReadAllText(dir.File("run/trials/0003/x.onnx")));
        Assert.Equal(["options.json"], Directory.GetFiles(dir.File("run")).Select(Path.GetFileName));
    }

    [Fact]
    public void A_trial_whose_artifact_is_damaged_or_missing_is_given_back_failed_with_the_reason_and_the_others_are_written()
    {
        using var dir = new TempDirectory();
        var artifacts = new ArtifactStore(dir.File("shared"));
        var good = Published(dir, artifacts, 0, "trials/0001/01-quantize.onnx", "the first model");
        var damaged = Published(dir, artifacts, 1, "trials/0002/01-quantize.onnx", "the second model");
        var missing = Published(dir, artifacts, 2, "trials/0003/01-quantize.onnx", "the third model");
        var kept = artifacts.Open(artifacts.Put(dir.File("worker/trials/0002/01-quantize.onnx")));
        File.WriteAllText(kept, "damaged on the way");
        File.Delete(artifacts.Open(missing.Attributes[TrialFiles.Files]));

        var trials = TrialFiles.Localize([good, damaged, missing], dir.File("run"), artifacts);

        Assert.Equal((TrialStatus.Completed, "trials/0001/01-quantize.onnx"), (trials[0].Status, trials[0].ModelPath));
        Assert.Equal("the first model", File.ReadAllText(dir.File("run/trials/0001/01-quantize.onnx")));
        Assert.Equal((TrialStatus.Failed, null), (trials[1].Status, trials[1].ModelPath));
        Assert.StartsWith($"its files could not be written into the run directory: the artifact {kept} is damaged: its content hashes to sha256:", trials[1].Error);
        Assert.Equal((TrialStatus.Failed, null), (trials[2].Status, trials[2].ModelPath));
        Assert.Equal($"its files could not be written into the run directory: the artifact {missing.Attributes[TrialFiles.Files]} is not in {artifacts.Directory}; give every machine the same --artifacts directory", trials[2].Error);
        Assert.Equal(["trials/0001"], Directory.GetDirectories(dir.File("run/trials")).Select(d => Path.GetRelativePath(dir.File("run"), d).Replace('\\', '/')));
        Assert.Equal(damaged.Metrics, trials[1].Metrics);   // what the worker measured is kept
    }

    [Fact]
    public void A_model_with_external_data_travels_with_its_data_files_and_loads_on_the_worker_as_a_model_and_as_a_teacher()
    {
        using var dir = new TempDirectory();
        var artifacts = new ArtifactStore(dir.File("shared"));
        var model = dir.File("models/lenet300.onnx");
        Directory.CreateDirectory(dir.File("models"));
        OnnxWriter.Write(ModelZoo.Create("lenet300", 1), model, new OnnxWriteOptions { ExternalData = true });
        var data = Path.GetFileName(Assert.Single(ExternalDataFiles.Referenced(model)));
        Write(dir.File("models/unrelated.txt"), "not the model's");

        var shipped = JobInputs.ShipModel(model, artifacts);
        var fetched = artifacts.OpenPath(shipped, dir.File("scratch"));
        var teacher = JobInputs.Fetch(JobInputs.Ship(new RecipeData { FashionMnist = RecipeData.Embedded, Teacher = model }, artifacts), artifacts, dir.File("scratch")).Teacher!;

        Assert.Matches("^sha256:[0-9a-f]{64}/lenet300\\.onnx$", shipped);
        foreach (var path in new[] { fetched, teacher })
        {
            Assert.Equal(["lenet300.onnx", data], Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName).Order(StringComparer.Ordinal));
            OnnxRunner.CheckLoads(path);
            var (a, b) = (OnnxReader.Read(model).Graph.Initializers, OnnxReader.Read(path).Graph.Initializers);
            Assert.Equal(a.Select(v => (v.Name, Convert.ToBase64String(v.Const!.RawData))), b.Select(v => (v.Name, Convert.ToBase64String(v.Const!.RawData))));
        }
        var inline = dir.File("models/inline.onnx");
        OnnxWriter.Write(ModelZoo.Create("lenet300", 1), inline);
        Assert.Equal(artifacts.Put(inline), JobInputs.ShipModel(inline, artifacts));   // a model without external data is one file
    }

    [Fact]
    public void A_model_whose_external_data_is_outside_its_folder_is_refused_in_one_line_before_anything_is_kept()
    {
        using var dir = new TempDirectory();
        var m = ProtoModels.Minimal();
        var t = new Shrink.Onnx.Proto.TensorProto { Name = "w", DataType = 1, DataLocation = Shrink.Onnx.Proto.TensorProto.Types.DataLocation.External };
        t.Dims.Add(4);
        t.ExternalData.Add(new Shrink.Onnx.Proto.StringStringEntryProto { Key = "location", Value = "../w.data" });
        m.Graph.Initializer.Add(t);
        Write(dir.File("w.data"), "0123456789abcdef");
        Directory.CreateDirectory(dir.File("models"));
        var model = dir.File("models/m.onnx");
        File.WriteAllBytes(model, Google.Protobuf.MessageExtensions.ToByteArray(m));

        var e = Assert.Throws<OptionsException>(() => JobInputs.CheckModel(model));
        var teacher = Assert.Throws<OptionsException>(() => JobInputs.Check(new RecipeData { FashionMnist = RecipeData.Embedded, Teacher = model }));

        Assert.Equal($"the model {model} reads its external data from ../w.data, outside its folder, which workers cannot be sent; with role coordinator keep the data files beside the model", e.Message);
        Assert.Equal(e.Message, teacher.Message);
        Assert.Throws<OptionsException>(() => JobInputs.ShipModel(model, new ArtifactStore(dir.File("shared"))));
        Assert.False(Directory.Exists(dir.File("shared")));
    }

    [Fact]
    public void Content_already_kept_is_not_written_again_and_a_damaged_copy_is_replaced()
    {
        using var dir = new TempDirectory();
        var artifacts = new ArtifactStore(dir.File("shared"));
        var file = Write(dir.File("a.npy"), "samples");
        var kept = artifacts.Open(artifacts.Put(file));
        var past = DateTime.UtcNow.AddHours(-1);
        File.SetLastWriteTimeUtc(kept, past);

        Assert.Equal(artifacts.Put(file), artifacts.Put(Encoding.UTF8.GetBytes("samples"), ".npy"));
        Assert.Equal(past, File.GetLastWriteTimeUtc(kept));   // the same content: left as it is

        File.WriteAllText(kept, "damaged");
        artifacts.Put(file);
        Assert.Equal("samples", File.ReadAllText(artifacts.Open(artifacts.Put(file))));
        Assert.Equal([Path.GetFileName(kept)], Directory.GetFiles(Path.GetDirectoryName(kept)!).Select(Path.GetFileName));
    }

    [Fact]
    public void Keeping_a_file_removes_only_this_machines_temporaries_of_ended_processes_never_another_machines()
    {
        using var dir = new TempDirectory();
        var artifacts = new ArtifactStore(dir.File("shared"));
        var file = Write(dir.File("a.npy"), "samples");
        var hash = artifacts.Put(file)[7..];
        var folder = Path.GetDirectoryName(artifacts.Open("sha256:" + hash))!;
        File.Delete(Path.Combine(folder, hash + ".npy"));
        var dead = Security.OutputGuardTests.DeadPid();
        var host = Shrink.IO.HostTemporaries.Host;
        string Temp(string name) => Write(Path.Combine(folder, name), "in flight");
        var ours = Temp($".{hash}.npy.{dead}@{host}.0badc0de.tmp");
        var live = Temp($".{hash}.npy.{Environment.ProcessId}@{host}.1234abcd.tmp");
        var theirs = Temp($".{hash}.npy.{dead}@{host}x-other.0badc0de.tmp");   // a process of that number ended here, not there
        var older = Temp($".{hash}.npy.{dead}.0badc0de.tmp");   // no host: an older Shrink's, on any machine

        Assert.Equal("sha256:" + hash, artifacts.Put(file));

        Assert.False(File.Exists(ours));
        Assert.All([live, theirs, older], f => Assert.True(File.Exists(f), f));
        Assert.Equal("samples", File.ReadAllText(Path.Combine(folder, hash + ".npy")));
    }
}
