using Shrink.IO;
using Shrink.Ir;
using Shrink.Passes.Deployment;

namespace Shrink.Runtime.Split;

/// <summary>
/// Writes a split model: one ONNX file per part (<c>part-01.onnx</c>, …) and <see cref="SplitManifest.FileName"/>
/// in a directory. Every part is staged through <see cref="ModelSaver.Stage"/> (so ONNX Runtime loads each one on
/// its own before anything is moved into place) and hashed as staged; the parts are committed only when all of them
/// and the manifest are staged, the manifest last. A failure leaves nothing in the directory.
/// </summary>
public static class SplitWriter
{
    /// <summary>The file name of part <paramref name="index"/> (0-based) of <paramref name="count"/>.</summary>
    public static string PartFile(int index, int count) => $"part-{(index + 1).ToString(count >= 100 ? "D3" : "D2")}.onnx";

    /// <summary>
    /// Writes the parts of <paramref name="plan"/> for <paramref name="model"/> into <paramref name="directory"/>, which must
    /// exist; <paramref name="source"/> is the model's file (its name and SHA-256 go into the manifest), or null.
    /// </summary>
    public static SplitManifest Write(Model model, SplitPlan plan, string directory, string? source = null, OutputGuard? guard = null)
    {
        var staged = new List<StagedFile>();
        try
        {
            var parts = new List<ManifestPart>();
            for (var i = 0; i < plan.Parts.Count; i++)
            {
                var path = Path.Combine(directory, PartFile(i, plan.Parts.Count));
                var file = ModelSaver.Stage(ModelParts.Extract(model, plan, i), path, guard: guard);
                staged.Add(file);
                parts.Add(Describe(plan.Parts[i], i, Path.GetFileName(path), file.TempPath));
            }
            var manifest = Manifest(model, plan, parts, source);
            var json = StagedFile.Begin(Path.Combine(directory, SplitManifest.FileName), guard, reserve: StagedFile.TempOnlySuffixBytes);
            staged.Add(json);
            json.Write(s => s.Write(System.Text.Encoding.UTF8.GetBytes(manifest.ToJson() + "\n")));
            foreach (var f in staged) f.Commit();
            return manifest;
        }
        finally
        {
            foreach (var f in staged) f.Dispose();
        }
    }

    private static ManifestPart Describe(PlannedPart p, int index, string file, string staged) => new()
    {
        Index = index, File = file, Sha256 = SplitManifest.Sha256(staged), FileBytes = new FileInfo(staged).Length,
        Nodes = p.Nodes, FirstNode = p.FirstNode, LastNode = p.LastNode, WeightBytes = p.WeightBytes,
        PeakActivationBytes = p.PeakActivationBytes, Inputs = p.Inputs, Outputs = p.Outputs,
    };

    private static SplitManifest Manifest(Model model, SplitPlan plan, List<ManifestPart> parts, string? source)
    {
        var graph = model.Graph;
        int Maker(string name) => parts.FindIndex(p => p.Outputs.Contains(name));
        return new SplitManifest
        {
            Source = source is null ? "" : Path.GetFileName(source),
            SourceSha256 = source is null ? "" : SplitManifest.Sha256(source),
            Batch = plan.Batch, Bound = plan.Bound, BoundKind = plan.BoundKind, CrossingBytes = plan.CrossingBytes,
            Inputs = graph.Inputs.Where(v => !v.IsInitializer).Select(v => Tensor(v, -1)).ToList(),
            Outputs = graph.Outputs.Select(v => Tensor(v, Maker(v.Name))).ToList(),
            Parts = parts,
            Tensors = plan.Boundary,
        };
    }

    private static ManifestTensor Tensor(Value v, int part) =>
        new(v.Name, v.ElementType.ShortName(), v.Shape?.Dims.Select(d => d.ToString()).ToList() ?? new List<string>(), part);
}
