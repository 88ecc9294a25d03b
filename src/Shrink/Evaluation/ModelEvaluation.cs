using System.IO.Compression;
using Shrink.Data;
using Shrink.Ir;
using Shrink.Onnx;
using Shrink.Runtime;
using Shrink.Stats;
using Shrink.Text;

namespace Shrink.Evaluation;

/// <summary>How <see cref="ModelEvaluation.Compare"/> times the two models at each batch size.</summary>
public sealed record LatencySettings
{
    /// <summary>Untimed runs of each model before the first timed round.</summary>
    public int Warmup { get; init; } = 10;

    /// <summary>Rounds of timed runs; which model goes first alternates from round to round (at least 2).</summary>
    public int Rounds { get; init; } = 10;

    /// <summary>Timed runs of one model in a row within a round.</summary>
    public int RunsPerRound { get; init; } = 5;
}

/// <summary>
/// Measurement of models, as every compression command reports it: <see cref="Measure(string, IDataSource?, RunnerOptions?, IReadOnlyDictionary{string, long}?)"/> one file,
/// <see cref="Compare"/> a model before and after a technique, latency measured interleaved with the noise-aware verdict;
/// on labelled data accuracy (top-1, top-5) and loss, on data without labels the fidelity of the "after" model to the "before" one.
/// </summary>
public static class ModelEvaluation
{
    /// <summary>Batch size of the accuracy evaluation in ONNX Runtime.</summary>
    public const int EvaluationBatch = 256;

    /// <summary>
    /// Size, parameters, MACs and, with a labelled <paramref name="test"/>, ONNX Runtime accuracy, top-5 and loss of one
    /// model file; no latency. Data without labels is only named (fidelity needs the original: <see cref="Compare"/>).
    /// MACs count symbolic axes at the sizes <paramref name="dims"/> gives them (default: the runner's <see cref="RunnerOptions.DimValues"/>).
    /// </summary>
    public static ModelMeasurement Measure(string path, IDataSource? test, RunnerOptions? runner = null, IReadOnlyDictionary<string, long>? dims = null)
    {
        var stats = ModelStats.Compute(path, dims ?? runner?.DimValues);
        var eval = test is { ClassCount: not null } ? Evaluate(path, test, runner) : null;
        return new ModelMeasurement(stats.BytesOnDisk, GzipBytes(path), stats.PackedBytes, stats.Parameters, stats.NonZero, stats.Sparsity, stats.Macs,
            Array.Empty<LatencyRow>(), eval?.Accuracy) { Stats = stats, Data = test?.Name, Top5 = eval?.Top5Accuracy, Loss = eval?.Loss };
    }

    /// <summary>
    /// Measures a model that has no file of its own: it is written (and checked) into a temporary file, which is
    /// measured as <see cref="Measure(string, IDataSource?, RunnerOptions?, IReadOnlyDictionary{string, long}?)"/> measures a file and removed after.
    /// </summary>
    public static ModelMeasurement Measure(Model model, IDataSource? test, RunnerOptions? runner = null)
    {
        var path = Path.Combine(Path.GetTempPath(), $"shrink-measure-{Guid.NewGuid():N}.onnx");
        using var staged = ModelSaver.Stage(model, path);  // never committed: disposing removes it
        return Measure(staged.TempPath, test, runner);
    }

    /// <summary>Top-1 accuracy of an in-memory model on a labelled <paramref name="test"/> in ONNX Runtime (<paramref name="source"/> names it in messages).</summary>
    public static double Accuracy(Model model, IDataSource test, string source = "model")
    {
        using var runner = OnnxRunner.FromModel(model, source: source);
        return runner.Evaluate(test, EvaluationBatch).Accuracy;
    }

    /// <summary>Top-1 accuracy of a model file on a labelled <paramref name="test"/> in ONNX Runtime.</summary>
    public static double Accuracy(string path, IDataSource test) => Evaluate(path, test).Accuracy;

    /// <summary>Top-1, top-5 and loss of a model file on a labelled <paramref name="test"/> in ONNX Runtime.</summary>
    public static EvalResult Evaluate(string path, IDataSource test, RunnerOptions? runner = null)
    {
        using var session = OnnxRunner.Load(path, runner);
        return session.Evaluate(test, EvaluationBatch);
    }

    /// <summary>
    /// Both sides of a before/after comparison, with their latency measured together, interleaved, at each batch size
    /// (<see cref="LatencyComparison"/>): the p50 rows and the verdict always come from the same runs. On a labelled
    /// <paramref name="test"/> both sides get accuracy, top-5 and loss; and the "after" side always gets its fidelity to the
    /// "before" model (<see cref="ModelMeasurement.Fidelity"/>), on <paramref name="test"/>, else <see cref="FidelityCheck.Data"/>, else
    /// seeded random inputs, and is refused below <see cref="FidelityOptions.MinFidelity"/> (<see cref="FidelityException"/>). A batch size the models cannot run (a
    /// fixed batch, inputs too large) ends the latency measurement with a note instead of failing; the options it names
    /// are named by <paramref name="naming"/> (default: the library's words).
    /// </summary>
    public static Comparison Compare(string beforePath, string afterPath, IDataSource? test, IReadOnlyList<int> batches, RunnerOptions? runner = null,
        LatencySettings? latency = null, OptionNaming? naming = null, FidelityCheck? fidelity = null)
    {
        var before = Measure(beforePath, test, dims: runner?.DimValues);  // accuracy and fidelity with ONNX Runtime's default settings, as every command measures them
        var after = Measure(afterPath, test, dims: runner?.DimValues);
        var notes = new List<string>();
        ManagedMemory.ReturnFreeSpace(); // reading the two models' statistics left freed arrays; the sessions below are native
        if (MeasureFidelity(beforePath, afterPath, test, fidelity ?? new(), runner, notes, naming) is { } f)
            after = after with { Fidelity = f.Outputs, FidelityData = f.Data };
        var rows = batches.Count == 0 ? Array.Empty<LatencyComparisonRow>() : CompareLatency(beforePath, afterPath, batches, runner ?? new(), latency ?? new(), notes, naming);
        return new Comparison(
            before with { Latency = rows.Select(r => LatencyRow.From(r.Batch, r.Baseline)).ToList() },
            after with { Latency = rows.Select(r => LatencyRow.From(r.Batch, r.Candidate)).ToList(), Comparison = rows },
            rows, notes);
    }

    private static FidelityMeasurement? MeasureFidelity(string beforePath, string afterPath, IDataSource? test, FidelityCheck check, RunnerOptions? runner,
        List<string> notes, OptionNaming? naming)
    {
        // Measurement sessions skip ONNX Runtime's prepacking (a packed copy of every weight), and the two models are run in turn.
        var options = new RunnerOptions { DimValues = runner?.DimValues ?? new Dictionary<string, long>(), Prepacking = false };
        using var reference = OnnxRunner.Load(beforePath, options);
        if (FidelitySource(reference, test, check, notes, naming) is not { } source) return null;
        var measured = new FidelityMeasurement(source.Name, Fidelity.InTurn(reference, () => OnnxRunner.Load(afterPath, options), source));
        check.Options.Enforce(measured.Outputs, check.Mend);
        return measured;
    }

    /// <summary>
    /// The fidelity of a result (<paramref name="after"/>) to its input model (<paramref name="before"/>), as every command that changes
    /// what a model computes reports it (<see cref="Fidelity.Against"/>): on <paramref name="data"/>, else <see cref="FidelityCheck.Data"/>, else
    /// seeded random inputs; refused below <see cref="FidelityOptions.MinFidelity"/> (<see cref="FidelityOptions.Enforce"/>). When random inputs
    /// cannot be made (a dynamic axis with no size) the figures are left out with a note in <paramref name="notes"/> (options named by
    /// <paramref name="naming"/>) and null is returned, or, with a bound to meet, an <see cref="OptionsException"/> says why.
    /// </summary>
    /// <exception cref="FidelityException">The worst output is below <see cref="FidelityOptions.MinFidelity"/>.</exception>
    public static FidelityMeasurement? FidelityOf(OnnxRunner before, OnnxRunner after, IDataSource? data, FidelityCheck? check = null,
        ICollection<string>? notes = null, OptionNaming? naming = null)
    {
        check ??= new();
        if (FidelitySource(before, data, check, notes, naming) is not { } source) return null;
        var measured = Fidelity.Against(before, after, source, check.Options);
        check.Options.Enforce(measured.Outputs, check.Mend);
        return measured;
    }

    /// <summary>What fidelity is measured on (<see cref="FidelityOf"/>): the data, the check's data, else random inputs; null (with a note) when none can be made.</summary>
    private static IDataSource? FidelitySource(OnnxRunner before, IDataSource? data, FidelityCheck check, ICollection<string>? notes, OptionNaming? naming)
    {
        try { return data ?? check.Data ?? Fidelity.RandomInputs(before, check.Options); }
        catch (ShrinkUserException e) when (e is OptionsException or DataException)
        {
            var min = OptionName.Of(nameof(FidelityOptions.MinFidelity));
            if (check.Options.MinFidelity is not null)
                throw new OptionsException(OptionText.Of($"{min} needs the result measured against the input model, and with no data it cannot be: {e.Wording}; give data to measure on"));
            notes?.Add($"fidelity to the input model not measured: {(naming is null ? e.Message : e.Wording.Render(naming))}; give data to measure it");
            return null;
        }
    }

    private static IReadOnlyList<LatencyComparisonRow> CompareLatency(string beforePath, string afterPath, IReadOnlyList<int> batches, RunnerOptions options,
        LatencySettings settings, List<string> notes, OptionNaming? naming)
    {
        using var a = OnnxRunner.Load(beforePath, options);
        using var b = OnnxRunner.Load(afterPath, options);
        var rows = new List<LatencyComparisonRow>();
        foreach (var batch in batches)
        {
            try { rows.AddRange(LatencyComparison.Compare(a, b, new[] { batch }, settings.Warmup, settings.Rounds, settings.RunsPerRound)); }
            catch (OptionsException e)
            {
                notes.Add($"latency not measured: {(naming is null ? e.Message : e.Wording.Render(naming))}");
                break;
            }
        }
        return rows;
    }

    /// <summary>
    /// Bytes of the model file and its external data files, one after the other, compressed by gzip at its smallest setting
    /// (gzip -9): what the zeros of unstructured pruning save, wherever the weights are stored.
    /// </summary>
    public static long GzipBytes(string path)
    {
        // Streamed: the files are read in buffers and only the compressed size is kept, so a big model costs no copy of itself.
        using var counter = new CountingStream();
        using (var gz = new GZipStream(counter, CompressionLevel.SmallestSize, leaveOpen: true))
            foreach (var part in ExternalDataFiles.Referenced(path).Where(File.Exists).Prepend(path))
            {
                using var file = File.OpenRead(part);
                file.CopyTo(gz, 1 << 20);
            }
        return counter.Length;
    }

    /// <summary>A write-only stream that counts what is written to it and keeps none of it.</summary>
    private sealed class CountingStream : Stream
    {
        private long _length;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => _length += count;
        public override void Write(ReadOnlySpan<byte> buffer) => _length += buffer.Length;
    }
}
