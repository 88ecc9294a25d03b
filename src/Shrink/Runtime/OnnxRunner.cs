using Microsoft.ML.OnnxRuntime;
using Shrink.Ir;
using Shrink.Onnx;

namespace Shrink.Runtime;

/// <summary>
/// An ONNX Runtime session (CPU): runs batches, evaluates accuracy, measures latency. Errors from
/// ONNX Runtime are wrapped once, here, as <see cref="RuntimeFailureException"/>.
/// </summary>
public sealed partial class OnnxRunner : IDisposable
{
    private readonly InferenceSession _session;

    private OnnxRunner(InferenceSession session, string source, RunnerOptions options)
    {
        _session = session;
        Source = source;
        Options = options;
        Inputs = session.InputMetadata.Select(kv => Spec(kv.Key, kv.Value)).ToArray();
        Outputs = session.OutputMetadata.Select(kv => Spec(kv.Key, kv.Value)).ToArray();
    }

    public string Source { get; }
    public RunnerOptions Options { get; }
    public IReadOnlyList<TensorSpec> Inputs { get; }
    public IReadOnlyList<TensorSpec> Outputs { get; }

    /// <summary>Opens a session on an ONNX file.</summary>
    public static OnnxRunner Load(string path, RunnerOptions? options = null)
    {
        if (!File.Exists(path)) throw new ModelFormatException($"model file '{path}' does not exist; check the path");
        if (IO.FileIdentity.NotRegular(path, "model file") is { } problem) throw new ModelFormatException(problem);
        options ??= new RunnerOptions();
        return Wrap(path, () =>
        {
            using var sessionOptions = SessionOptionsFor(options);
            return new OnnxRunner(OrtSessions.Open(path, sessionOptions), path, options);
        });
    }

    /// <summary>Models with more tensor data than this (or any tensor still in external data) are opened from a scratch file.</summary>
    internal const long InMemoryLimit = 64L << 20;

    /// <summary>
    /// Opens a session on an in-memory model. A small one is serialized through the writer and loaded from the bytes;
    /// a large one, or one whose weights are still in external data, is written to a scratch directory with external
    /// data (unloaded tensors copied in chunks, never loaded) and loaded from the file, so that neither a serialized
    /// copy nor ONNX Runtime's parse of it costs the model's size again (and models over 2 GB load at all); the
    /// scratch files are removed once the session holds the weights.
    /// </summary>
    public static OnnxRunner FromModel(Model model, RunnerOptions? options = null, string source = "model")
    {
        options ??= new RunnerOptions();
        if (!Large(model))
        {
            var bytes = OnnxWriter.ToBytes(model);
            return Wrap(source, () =>
            {
                using var sessionOptions = SessionOptionsFor(options);
                return new OnnxRunner(OrtSessions.Open(bytes, sessionOptions), source, options) { IndexBounds = IndexInputs.Bounds(model) };
            });
        }
        var scratch = Directory.CreateTempSubdirectory("shrink-session-");
        try
        {
            var path = OnnxWriter.WriteScratch(model, scratch.FullName);
            return Wrap(source, () =>
            {
                using var sessionOptions = SessionOptionsFor(options);
                return new OnnxRunner(OrtSessions.Open(path, sessionOptions), source, options) { IndexBounds = IndexInputs.Bounds(model) };
            });
        }
        finally
        {
            try { scratch.Delete(recursive: true); } catch (IOException) { }
        }
    }

    private static bool Large(Model model)
    {
        var tensors = model.AllGraphs().SelectMany(g => g.Initializers).Select(v => v.Const!).ToList();
        return tensors.Any(t => !t.IsLoaded) || tensors.Sum(t => t.ByteLength) > InMemoryLimit;
    }

    /// <summary>Checks that ONNX Runtime loads the file; throws <see cref="RuntimeFailureException"/> naming the file otherwise.</summary>
    public static void CheckLoads(string path)
    {
        using var _ = Load(path, new RunnerOptions { Threads = 1, Prepacking = false });
    }

    /// <summary>Why ONNX Runtime cannot load the file (the message of <see cref="CheckLoads"/>), or null when it loads.</summary>
    public static string? LoadFailure(string path)
    {
        try { CheckLoads(path); return null; }
        catch (RuntimeFailureException e) { return e.Message; }
    }

    /// <summary>Runs the model on named inputs and returns every output.</summary>
    public IReadOnlyList<HostTensor> Run(IReadOnlyList<HostTensor> inputs)
    {
        CheckInputs(inputs);
        return Wrap(Source, () =>
        {
            var values = inputs.Select(OrtValues.Create).ToArray();
            try
            {
                using var runOptions = new RunOptions();
                using var results = _session.Run(runOptions, inputs.Select(i => i.Name).ToArray(), values, Outputs.Select(o => o.Name).ToArray());
                return results.Select((r, i) => OrtValues.ToHost(Outputs[i].Name, r)).ToArray();
            }
            finally
            {
                foreach (var v in values) v.Dispose();
            }
        });
    }

    /// <summary>Runs a single-input model on a float32 batch and returns the first output.</summary>
    public (float[] Data, long[] Shape) RunFloat(float[] input, long[] shape)
    {
        var output = Run(new[] { new HostTensor(Inputs[0].Name, input, shape) })[0];
        return output.Data is float[] f ? (f, output.Shape)
            : throw new RuntimeFailureException($"'{Source}': output '{output.Name}' is {output.Data.GetType().GetElementType()!.Name}, not float32");
    }

    public void Dispose() => _session.Dispose();

    private static SessionOptions SessionOptionsFor(RunnerOptions o)
    {
        var so = OrtSessions.NewOptions();
        so.GraphOptimizationLevel = o.LayoutOptimizations ? GraphOptimizationLevel.ORT_ENABLE_ALL : GraphOptimizationLevel.ORT_ENABLE_EXTENDED;
        so.ExecutionMode = ExecutionMode.ORT_SEQUENTIAL;
        so.InterOpNumThreads = 1;
        if (o.Threads > 0) so.IntraOpNumThreads = o.Threads;
        if (!o.Prepacking) so.AddSessionConfigEntry("session.disable_prepacking", "1");
        if (o.OptimizedModelPath is { } path) so.OptimizedModelFilePath = path;
        if (o.ProfilePrefix is { } prefix)
        {
            so.EnableProfiling = true;
            so.ProfileOutputPathPrefix = prefix;
        }
        return so;
    }

    private static TensorSpec Spec(string name, NodeMetadata m) =>
        new(name, m.IsTensor ? m.ElementType : typeof(object), m.IsTensor ? m.Dimensions.Select(d => (long)d).ToArray() : Array.Empty<long>(),
            m.IsTensor ? m.SymbolicDimensions.Select(s => string.IsNullOrEmpty(s) ? null : s).ToArray() : Array.Empty<string?>());

    private static T Wrap<T>(string source, Func<T> f)
    {
        try { return f(); }
        catch (OnnxRuntimeException e)
        {
            throw new RuntimeFailureException($"ONNX Runtime failed on '{source}': {FirstLine(e.Message)}", e);
        }
    }

    /// <summary>ONNX Runtime's messages span lines; the first says what is wrong.</summary>
    internal static string FirstLine(string s) => s.Split('\n')[0].Trim();
}
