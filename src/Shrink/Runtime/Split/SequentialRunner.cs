using System.Diagnostics;
using Shrink.Text;

namespace Shrink.Runtime.Split;

/// <summary>Options of <see cref="SequentialRunner"/>.</summary>
public sealed record SequentialRunnerOptions
{
    /// <summary>
    /// How many part sessions may be open at once. With 1 (the default) each part is loaded, run and disposed before
    /// the next is loaded; with K, parts 1..K−1 stay loaded across runs and the others share the last slot; with K at
    /// least the number of parts every part stays loaded.
    /// </summary>
    public int Resident { get; init; } = 1;

    /// <summary>ONNX Runtime settings for every part.</summary>
    public RunnerOptions Runner { get; init; } = new();

    /// <summary>
    /// Whether freed parts' memory goes back to the system (the default). With glibc, <see cref="SequentialRunner.Open"/>
    /// has the C library map blocks of 1 MiB or more on their own, for the whole process from then on (without it a part
    /// loaded after another peaked at three times its weights: two halves of a model took more than the whole), and the
    /// heap is trimmed after each part is freed. False leaves the C library's allocator as it is.
    /// </summary>
    public bool ReleaseMemory { get; init; } = true;

    public SequentialRunnerOptions Validate() =>
        Resident < 1 ? throw OptionsException.For(nameof(Resident), $"must be 1 or more, got {Resident}") : this;
}

/// <summary>
/// One part's run: how long loading its session took (0 when it was resident), how long it ran, and how many part
/// sessions were open while it ran, its own included (never more than <see cref="SequentialRunnerOptions.Resident"/>).
/// </summary>
public sealed record PartTiming(int Part, double LoadSeconds, double RunSeconds, int SessionsOpen);

/// <summary>
/// Runs a split model (<see cref="SplitManifest"/>) part by part in ONNX Runtime: each part's inputs are taken from
/// the graph inputs and the tensors earlier parts returned, its outputs kept only while a later part or the result
/// needs them, and its session disposed after use unless it is resident (<see cref="SequentialRunnerOptions.Resident"/>).
/// The manifest's hashes are checked when it is opened. The outputs are the whole model's, in its order.
/// </summary>
public sealed class SequentialRunner : IDisposable
{
    private readonly string _path;
    private readonly SequentialRunnerOptions _options;
    private readonly OnnxRunner?[] _resident;

    private SequentialRunner(string path, SplitManifest manifest, SequentialRunnerOptions options)
    {
        _path = path;
        Manifest = manifest;
        _options = options;
        _resident = new OnnxRunner?[manifest.Parts.Count];
    }

    public SplitManifest Manifest { get; }

    /// <summary>Each part's timing in the last <see cref="Run"/>.</summary>
    public IReadOnlyList<PartTiming> LastTimings { get; private set; } = Array.Empty<PartTiming>();

    /// <summary>
    /// Reads and checks the manifest at <paramref name="manifestPath"/> (hashes included); loads no part yet. With
    /// <see cref="SequentialRunnerOptions.ReleaseMemory"/>, sets the C library's allocator as that option says.
    /// </summary>
    public static SequentialRunner Open(string manifestPath, SequentialRunnerOptions? options = null)
    {
        options = (options ?? new SequentialRunnerOptions()).Validate();
        var runner = new SequentialRunner(manifestPath, SplitManifest.Read(manifestPath), options);
        if (options.ReleaseMemory) NativeHeap.MapLargeBlocks();
        return runner;
    }

    /// <summary>Runs the parts in order on the whole model's inputs (by name) and returns its outputs.</summary>
    public IReadOnlyList<HostTensor> Run(IReadOnlyList<HostTensor> inputs)
    {
        var store = Given(inputs);
        var lastUse = LastUses();
        var timings = new List<PartTiming>();
        foreach (var part in Manifest.Parts)
        {
            var clock = Stopwatch.StartNew();
            var runner = _resident[part.Index] ?? OnnxRunner.Load(SplitManifest.PartPath(_path, part), _options.Runner);
            var load = clock.Elapsed.TotalSeconds;
            var open = _resident.Count(r => r is not null && r != runner) + 1;
            try
            {
                var feed = part.Inputs.Select(name => store.TryGetValue(name, out var t) ? t
                    : throw new ModelFormatException($"'{Message.Name(_path)}': part {part.Index + 1} reads '{Message.Name(name)}', which no input or earlier part gives")).ToList();
                foreach (var t in runner.Run(feed)) store[t.Name] = t;
            }
            finally
            {
                if (Keeps(part.Index)) _resident[part.Index] = runner;
                else
                {
                    runner.Dispose();
                    if (_options.ReleaseMemory) NativeHeap.Trim();
                }
            }
            foreach (var name in part.Inputs.Where(n => lastUse.GetValueOrDefault(n, -1) <= part.Index)) store.Remove(name);
            timings.Add(new PartTiming(part.Index, load, clock.Elapsed.TotalSeconds - load, open));
        }
        LastTimings = timings;
        return Manifest.Outputs.Select(o => store.TryGetValue(o.Name, out var t) ? t
            : throw new ModelFormatException($"'{Message.Name(_path)}': no part returns the output '{Message.Name(o.Name)}'")).ToList();
    }

    public void Dispose()
    {
        for (var i = 0; i < _resident.Length; i++)
        {
            _resident[i]?.Dispose();
            _resident[i] = null;
        }
    }

    /// <summary>Whether part <paramref name="index"/>'s session stays open after it runs.</summary>
    private bool Keeps(int index) =>
        _options.Resident >= Manifest.Parts.Count || index < _options.Resident - 1;

    /// <summary>The last part that reads each tensor (the result's outputs are kept to the end).</summary>
    private Dictionary<string, int> LastUses()
    {
        var last = new Dictionary<string, int>();
        foreach (var p in Manifest.Parts)
            foreach (var name in p.Inputs) last[name] = p.Index;
        foreach (var o in Manifest.Outputs) last[o.Name] = int.MaxValue;
        return last;
    }

    private Dictionary<string, HostTensor> Given(IReadOnlyList<HostTensor> inputs)
    {
        var store = new Dictionary<string, HostTensor>();
        foreach (var t in inputs)
        {
            if (Manifest.Inputs.All(i => i.Name != t.Name))
                throw new DataException($"the split model '{Message.Name(_path)}' has no input '{Message.Name(t.Name)}'; its inputs are {string.Join(", ", Manifest.Inputs.Select(i => i.Name))}");
            store[t.Name] = t;
        }
        foreach (var i in Manifest.Inputs.Where(i => !store.ContainsKey(i.Name) && Manifest.Parts.Any(p => p.Inputs.Contains(i.Name))))
            throw new DataException($"the split model '{Message.Name(_path)}' needs input '{Message.Name(i.Name)}', which was not given");
        return store;
    }
}
