using Microsoft.ML.OnnxRuntime;
using Shrink.IO;
using Shrink.Ir;
using Shrink.Onnx;

namespace Shrink.Runtime;

/// <summary>
/// The one way Shrink writes models: validate, serialize, check that ONNX Runtime loads the result,
/// and only then move it into place atomically. A model that fails any step leaves nothing written.
/// </summary>
public static class ModelSaver
{
    /// <param name="model">The model to write.</param>
    /// <param name="path">Destination .onnx path (external data goes beside it as PATH.data).</param>
    /// <param name="options">Writer options.</param>
    /// <param name="requireRuntime">Refuse to write a model ONNX Runtime cannot load (off only to convert files ONNX Runtime already rejects).</param>
    public static void Save(Model model, string path, OnnxWriteOptions? options = null, bool requireRuntime = true)
    {
        options ??= new OnnxWriteOptions();
        GraphValidator.EnsureValid(model, new ValidationOptions { CheckTypes = false, RequireRuntimeOpsets = requireRuntime });
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(dir))
            throw new OptionsException($"cannot write '{path}': directory '{dir}' does not exist; create it first");
        if (!options.ExternalData && !OnnxWriter.NeedsExternalData(model))
        {
            var bytes = OnnxWriter.ToBytes(model);
            if (requireRuntime) CheckLoads(() => OrtSessions.Open(bytes), path);
            AtomicFile.Write(path, s => s.Write(bytes));
            return;
        }
        SaveExternal(model, path, options with { ExternalData = true }, requireRuntime, dir);
    }

    /// <summary>Writes model and data into a staging folder beside the target, checks them, then renames both into place.</summary>
    private static void SaveExternal(Model model, string path, OnnxWriteOptions options, bool requireRuntime, string dir)
    {
        var stage = Directory.CreateDirectory(Path.Combine(dir, $".shrink-stage-{Guid.NewGuid():N}")).FullName;
        try
        {
            var staged = Path.Combine(stage, Path.GetFileName(path));
            OnnxWriter.Write(model, staged, options);
            if (requireRuntime) CheckLoads(() => OrtSessions.Open(staged), path);
            File.Move(staged + ".data", Path.GetFullPath(path) + ".data", overwrite: true);
            File.Move(staged, Path.GetFullPath(path), overwrite: true);
        }
        finally
        {
            Directory.Delete(stage, recursive: true);
        }
    }

    private static void CheckLoads(Func<InferenceSession> open, string path)
    {
        try { open().Dispose(); }
        catch (OnnxRuntimeException e)
        {
            throw new RuntimeFailureException($"refusing to write '{path}': ONNX Runtime cannot load the result ({OnnxRunner.FirstLine(e.Message)})", e);
        }
    }
}
