using System.Globalization;
using System.Text.Json;
using Shrink.IO;
using Shrink.Runtime;

namespace Shrink.Architecture;

/// <summary>
/// Per-block ONNX Runtime latency on one machine (the latency table mode of <c>shrink search --latency-table</c>): each distinct
/// <see cref="LatencyBlock"/> is built alone as a tiny model and timed once at every batch size, the way
/// <see cref="LatencyProfile"/> times a candidate (same thread count, warm-up, median of interleaved runs), then kept in
/// <c>DIR/latency-table.json</c> under the CPU model and thread count of <see cref="MachineInfo"/>: a resumed run reuses it,
/// another machine or thread count measures its own section. A candidate's latency is predicted from its blocks
/// (<see cref="Predict"/>) before it is built or trained.
/// </summary>
/// <remarks>
/// Every run of a piece pays the run's own cost once (binding inputs, launching the session) where the whole network pays it
/// once in all, so the prediction is Σ blocks − (n − 1) · overhead, the overhead timed as a piece of its own
/// (<see cref="LatencyBlock.Overhead"/>). Measurements happen under one lock, one at a time, so parallel workers neither
/// measure a block twice nor time two blocks against each other. The file is rewritten atomically after each new block.
/// </remarks>
public sealed class LatencyTable
{
    public const string FileName = "latency-table.json";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };
    private readonly object _gate = new();
    private readonly string _directory;
    private readonly TableFile _file;
    private readonly MachineSection _section;
    private readonly int _rounds;

    private LatencyTable(string directory, TableFile file, MachineSection section, MachineInfo machine, IReadOnlyList<int> batches, int rounds) =>
        (_directory, _file, _section, Machine, Batches, _rounds) = (directory, file, section, machine, batches, rounds);

    /// <summary>The CPU model and thread count the table's figures hold for.</summary>
    public MachineInfo Machine { get; }

    /// <summary>The batch sizes every block is timed at.</summary>
    public IReadOnlyList<int> Batches { get; }

    /// <summary>Blocks (the overhead included) this instance timed itself; those found in the file cost nothing.</summary>
    public int Measured { get; private set; }

    /// <summary>Blocks this machine's section holds.</summary>
    public int Count { get { lock (_gate) return _section.Blocks.Count; } }

    /// <summary>
    /// The table of <paramref name="directory"/> for <paramref name="machine"/> (its CPU and thread count) at <paramref name="batches"/>;
    /// nothing is written until a block is measured. A file that cannot be read is measured afresh (and replaced).
    /// <paramref name="rounds"/> are <see cref="LatencyProfile.Measure"/>'s interleaved rounds.
    /// </summary>
    public static LatencyTable Open(string directory, MachineInfo machine, IReadOnlyList<int> batches, int rounds = 8)
    {
        ArgumentNullException.ThrowIfNull(machine);
        if (batches.Count == 0 || batches.Any(b => b < 1)) throw new ArgumentException("give batch sizes of at least 1", nameof(batches));
        if (rounds < 1) throw new ArgumentOutOfRangeException(nameof(rounds), "give at least one round");
        directory = Path.GetFullPath(directory);
        var file = Read(Path.Combine(directory, FileName));
        var section = file.Machines.FirstOrDefault(m => m.Cpu == machine.Cpu && m.Threads == machine.Threads);
        if (section is null) file.Machines.Add(section = new MachineSection { Cpu = machine.Cpu, Threads = machine.Threads });
        return new LatencyTable(directory, file, section, machine, batches.Distinct().Order().ToList(), rounds);
    }

    /// <summary>The median milliseconds of <paramref name="block"/> alone at each batch size (timed now unless the table has them).</summary>
    public IReadOnlyDictionary<int, double> Of(LatencyBlock block)
    {
        ArgumentNullException.ThrowIfNull(block);
        lock (_gate)
        {
            var key = block.Key;
            if (_section.Blocks.TryGetValue(key, out var known) && Batches.All(b => known.ContainsKey(Batch(b))))
                return Batches.ToDictionary(b => b, b => known[Batch(b)]);
            var measured = Measure(block);
            _section.Blocks[key] = measured.ToDictionary(kv => Batch(kv.Key), kv => kv.Value);
            Measured++;
            Directory.CreateDirectory(_directory);
            AtomicFile.WriteAllText(Path.Combine(_directory, FileName), JsonSerializer.Serialize(_file, Json));
            return measured;
        }
    }

    /// <summary>The predicted milliseconds of a network made of <paramref name="blocks"/> at each batch size (<see cref="Combine"/>).</summary>
    public IReadOnlyDictionary<int, double> Predict(IReadOnlyList<LatencyBlock> blocks)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        var overhead = Of(LatencyBlock.Overhead);
        return Combine(blocks.Select(Of).ToList(), overhead);
    }

    /// <summary>
    /// Σ blocks − (n − 1) · overhead at each batch size of <paramref name="overhead"/>, never under one overhead: the pieces
    /// run as one network pay a run's own cost once.
    /// </summary>
    public static IReadOnlyDictionary<int, double> Combine(IReadOnlyList<IReadOnlyDictionary<int, double>> blocks, IReadOnlyDictionary<int, double> overhead)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        ArgumentNullException.ThrowIfNull(overhead);
        return overhead.ToDictionary(o => o.Key, o => Math.Max(o.Value, blocks.Sum(b => b[o.Key]) - Math.Max(0, blocks.Count - 1) * o.Value));
    }

    private Dictionary<int, double> Measure(LatencyBlock block)
    {
        var scratch = Path.Combine(_directory, "latency-blocks");
        Directory.CreateDirectory(scratch);
        var path = Path.Combine(scratch, "block.onnx");
        try
        {
            ModelSaver.Save(block.Build(), path);   // validated and loaded in ONNX Runtime
            return LatencyProfile.Measure(path, Batches, Machine.Threads, rounds: _rounds).ToDictionary(kv => kv.Key, kv => kv.Value.P50Ms);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private static TableFile Read(string path)
    {
        if (!File.Exists(path)) return new TableFile();
        try { return JsonSerializer.Deserialize<TableFile>(File.ReadAllText(path), Json) is { Version: 1 } f ? f : new TableFile(); }
        catch (JsonException) { return new TableFile(); }
    }

    private static string Batch(int batch) => batch.ToString(CultureInfo.InvariantCulture);

    private sealed class TableFile
    {
        public int Version { get; set; } = 1;
        public List<MachineSection> Machines { get; set; } = [];
    }

    private sealed class MachineSection
    {
        public string Cpu { get; set; } = "";
        public int Threads { get; set; }
        /// <summary>Block key → batch size → median milliseconds.</summary>
        public Dictionary<string, Dictionary<string, double>> Blocks { get; set; } = [];
    }
}
