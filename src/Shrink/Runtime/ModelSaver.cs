using Microsoft.ML.OnnxRuntime;
using Shrink.IO;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Text;

namespace Shrink.Runtime;

/// <summary>
/// The one way Shrink writes models: validate, serialize to a temporary file beside the destination
/// (external data under its content name), check that ONNX Runtime loads that file, and only then
/// move it into place with one rename. A model that fails any step leaves nothing written.
/// </summary>
public static class ModelSaver
{
    /// <param name="model">The model to write.</param>
    /// <param name="path">Destination .onnx path (external data goes beside it as PATH.&lt;hash&gt;.data).</param>
    /// <param name="options">Writer options.</param>
    /// <param name="requireRuntime">Refuse to write a model ONNX Runtime cannot load (off only on explicit request, e.g. <c>convert --allow-invalid</c>).</param>
    /// <param name="guard">The inputs the output must not replace (the model, its external data, a teacher…).</param>
    public static void Save(Model model, string path, OnnxWriteOptions? options = null, bool requireRuntime = true, OutputGuard? guard = null)
    {
        using var staged = Stage(model, path, options, requireRuntime, guard);
        staged.Commit();
    }

    /// <summary>
    /// Writes and checks the model as <see cref="Save(Model, string, OnnxWriteOptions?, bool, OutputGuard?)"/> does,
    /// measures the very file that will ship with <paramref name="measure"/> (given its temporary path),
    /// and moves it into place only when that succeeded; returns the measurement.
    /// </summary>
    public static T Save<T>(Model model, string path, Func<string, T> measure, OnnxWriteOptions? options = null, bool requireRuntime = true, OutputGuard? guard = null)
    {
        using var staged = Stage(model, path, options, requireRuntime, guard);
        var measured = measure(staged.TempPath);
        staged.Commit();
        return measured;
    }

    /// <summary>
    /// Writes and checks the model as <see cref="Save(Model, string, OnnxWriteOptions?, bool, OutputGuard?)"/> does but stops before the final rename: the
    /// caller measures <see cref="StagedFile.TempPath"/> (the very file that will ship), then commits, or
    /// disposes to leave nothing behind.
    /// </summary>
    public static StagedFile Stage(Model model, string path, OnnxWriteOptions? options = null, bool requireRuntime = true, OutputGuard? guard = null)
    {
        GraphValidator.EnsureValid(model, new ValidationOptions { CheckTypes = false, RequireRuntimeOpsets = requireRuntime });
        var staged = OnnxWriter.Stage(model, path, options, guard);
        try
        {
            if (requireRuntime)
            {
                ManagedMemory.ReturnFreeSpace(); // what writing left behind, before ONNX Runtime loads the result
                CheckLoads(staged.TempPath, path);
            }
            return staged;
        }
        catch
        {
            staged.Dispose();
            throw;
        }
    }

    private static void CheckLoads(string file, string path)
    {
        try { OnnxRunner.CheckLoads(file); }
        catch (RuntimeFailureException e)
        {
            var cause = e.InnerException is OnnxRuntimeException ort ? OnnxRunner.FirstLine(ort.Message) : e.Message;
            throw new RuntimeFailureException($"refusing to write '{Message.Name(path)}': ONNX Runtime cannot load the result ({cause.Replace(file, path)})", e);
        }
    }
}
