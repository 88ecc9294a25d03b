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

    private LatencyTable(string directory, TableFile file, MachineSection section, MachineInfo machine, IReadOnlyList<int> batches, int rounds, int calibrateAfter) =>
        (_directory, _file, _section, Machine, Batches, _rounds, CalibrateAfter) = (directory, file, section, machine, batches, rounds, calibrateAfter);

    /// <summary>The default of <see cref="CalibrateAfter"/>: the first three measured trials calibrate the rest.</summary>
    public const int DefaultCalibrateAfter = 3;

    /// <summary>The measured trials needed before predictions are calibrated (0: never calibrated).</summary>
    public int CalibrateAfter { get; }

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
    /// <paramref name="rounds"/> are <see cref="LatencyProfile.Measure"/>'s interleaved rounds; <paramref name="calibrateAfter"/> is <see cref="CalibrateAfter"/>.
    /// </summary>
    public static LatencyTable Open(string directory, MachineInfo machine, IReadOnlyList<int> batches, int rounds = 8, int calibrateAfter = DefaultCalibrateAfter)
    {
        if (calibrateAfter < 0) throw new ArgumentOutOfRangeException(nameof(calibrateAfter), "give 0 (never calibrate) or more trials");
        ArgumentNullException.ThrowIfNull(machine);
        if (batches.Count == 0 || batches.Any(b => b < 1)) throw new ArgumentException("give batch sizes of at least 1", nameof(batches));
        if (rounds < 1) throw new ArgumentOutOfRangeException(nameof(rounds), "give at least one round");
        directory = Path.GetFullPath(directory);
        var file = Read(Path.Combine(directory, FileName));
        var section = file.Machines.FirstOrDefault(m => m.Cpu == machine.Cpu && m.Threads == machine.Threads);
        if (section is null) file.Machines.Add(section = new MachineSection { Cpu = machine.Cpu, Threads = machine.Threads });
        return new LatencyTable(directory, file, section, machine, batches.Distinct().Order().ToList(), rounds, calibrateAfter);
    }

    /// <summary>The median milliseconds of <paramref name="block"/> alone at each batch size (timed now unless the table has them).</summary>
    public IReadOnlyDictionary<int, double> Of(LatencyBlock block)
    {
        ArgumentNullException.ThrowIfNull(block);
        return Of([block]);
    }

    /// <summary>The median milliseconds of <paramref name="chain"/> run as one network at each batch size (timed now unless the table has them).</summary>
    public IReadOnlyDictionary<int, double> Of(IReadOnlyList<LatencyBlock> chain)
    {
        ArgumentNullException.ThrowIfNull(chain);
        lock (_gate)
        {
            var key = LatencyBlock.ChainKey(chain);
            if (_section.Blocks.TryGetValue(key, out var known) && Batches.All(b => known.ContainsKey(Batch(b))))
                return Batches.ToDictionary(b => b, b => known[Batch(b)]);
            var measured = Measure(chain);
            _section.Blocks[key] = measured.ToDictionary(kv => Batch(kv.Key), kv => kv.Value);
            Measured++;
            Save();
            return measured;
        }
    }

    /// <summary>
    /// Records that trial <paramref name="trial"/>, whose table sum was <paramref name="table"/> (<see cref="Predict"/>), measured
    /// <paramref name="measured"/> as a whole network (batch size → milliseconds); a trial observed again (retried) replaces its entry.
    /// Kept in the file, so a resumed run calibrates as the first one did.
    /// </summary>
    public void Observe(int trial, IReadOnlyDictionary<int, double> table, IReadOnlyDictionary<int, double> measured)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(measured);
        if (Batches.Any(b => !table.ContainsKey(b) || !measured.ContainsKey(b))) throw new ArgumentException($"give the table sum and the measurement at every batch size ({string.Join(", ", Batches)})", nameof(measured));
        lock (_gate)
        {
            _section.Trials.RemoveAll(o => o.Trial == trial);
            _section.Trials.Add(new Observation { Trial = trial, Table = Batches.ToDictionary(Batch, b => table[b]), Measured = Batches.ToDictionary(Batch, b => measured[b]) });
            _section.Trials.Sort((a, b) => a.Trial.CompareTo(b.Trial));
            Save();
        }
    }

    /// <summary>
    /// The calibration per batch size fitted on every trial observed so far (<see cref="LatencyCalibration.Fit"/>); empty while
    /// fewer than <see cref="CalibrateAfter"/> trials are known (or when it is 0).
    /// </summary>
    public IReadOnlyList<LatencyCalibration> Calibrate()
    {
        lock (_gate)
        {
            var known = _section.Trials.Where(o => Batches.All(b => o.Table.ContainsKey(Batch(b)) && o.Measured.ContainsKey(Batch(b)))).ToList();
            if (CalibrateAfter == 0 || known.Count < CalibrateAfter) return [];
            var trials = known.Select(o => o.Trial).ToList();
            return Batches.Select(b => LatencyCalibration.Fit(b, trials, known.Select(o => (o.Table[Batch(b)], o.Measured[Batch(b)])).ToList())).ToList();
        }
    }

    private void Save()
    {
        Directory.CreateDirectory(_directory);
        AtomicFile.WriteAllText(Path.Combine(_directory, FileName), JsonSerializer.Serialize(_file, Json));
    }

    /// <summary>The predicted milliseconds of a network made of <paramref name="blocks"/> at each batch size (<see cref="Combine"/>).</summary>
    public IReadOnlyDictionary<int, double> Predict(IReadOnlyList<LatencyBlock> blocks)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        var overhead = Of(LatencyBlock.Overhead);
        return Combine(blocks.Select(Of).ToList(), overhead);
    }

    /// <summary>
    /// The predicted milliseconds of a network made of <paramref name="blocks"/>, each piece timed in context, after its
    /// predecessor (<see cref="CombineInContext"/>): the first piece alone, then for each next piece the pair (predecessor,
    /// piece) less the predecessor alone.
    /// </summary>
    public IReadOnlyDictionary<int, double> PredictInContext(IReadOnlyList<LatencyBlock> blocks)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        if (blocks.Count == 0) throw new ArgumentException("give at least one piece", nameof(blocks));
        var alone = blocks.Select(Of).ToList();
        var pairs = Enumerable.Range(1, blocks.Count - 1).Select(i => Of([blocks[i - 1], blocks[i]])).ToList();
        return CombineInContext(alone, pairs, Of(LatencyBlock.Overhead));
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

    /// <summary>
    /// T(p₁) + Σᵢ₌₂ⁿ (T(pᵢ₋₁ pᵢ) − T(pᵢ₋₁)) at each batch size of <paramref name="overhead"/>, never under one overhead:
    /// <paramref name="alone"/> are T(pᵢ), each piece run alone, <paramref name="pairs"/> T(pᵢ₋₁ pᵢ), a piece run after its
    /// predecessor. A piece run alone pays a run's own cost and the copies of its input and output (and ONNX Runtime's layout
    /// conversions into and out of the blocked format convolutions use); in a pair the predecessor's output is an
    /// intermediate, as in the whole network, so each difference is the piece's cost where it sits, and the sum telescopes to
    /// the whole network's when the pieces interact only with their neighbours.
    /// </summary>
    public static IReadOnlyDictionary<int, double> CombineInContext(IReadOnlyList<IReadOnlyDictionary<int, double>> alone,
        IReadOnlyList<IReadOnlyDictionary<int, double>> pairs, IReadOnlyDictionary<int, double> overhead)
    {
        ArgumentNullException.ThrowIfNull(alone);
        ArgumentNullException.ThrowIfNull(pairs);
        ArgumentNullException.ThrowIfNull(overhead);
        if (alone.Count == 0 || pairs.Count != alone.Count - 1) throw new ArgumentException($"give one pair per piece after the first ({alone.Count} pieces, {pairs.Count} pairs)", nameof(pairs));
        return overhead.ToDictionary(o => o.Key, o => Math.Max(o.Value, alone[0][o.Key] + pairs.Select((p, i) => p[o.Key] - alone[i][o.Key]).Sum()));
    }

    private Dictionary<int, double> Measure(IReadOnlyList<LatencyBlock> chain)
    {
        var scratch = Path.Combine(_directory, "latency-blocks");
        Directory.CreateDirectory(scratch);
        var path = Path.Combine(scratch, "block.onnx");
        try
        {
            ModelSaver.Save(LatencyBlock.BuildChain(chain), path);   // validated and loaded in ONNX Runtime
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
        /// <summary>The measured trials the calibration is fitted on.</summary>
        public List<Observation> Trials { get; set; } = [];
    }

    private sealed class Observation
    {
        public int Trial { get; set; }
        /// <summary>Batch size → the table's sum (uncalibrated), milliseconds.</summary>
        public Dictionary<string, double> Table { get; set; } = [];
        /// <summary>Batch size → the whole network's measured median, milliseconds.</summary>
        public Dictionary<string, double> Measured { get; set; } = [];
    }
}
