using System.CommandLine;
using Shrink.IO;

namespace Shrink.Cli;

/// <summary>Options shared by several commands, and the parsing of their values.</summary>
internal static class Options
{
    public static Argument<string> Model() => new("MODEL") { Description = "ONNX model file" };
    public static Option<bool> Json() => new("--json") { Description = "Print one JSON document on stdout instead of tables" };
    public static Option<int> Threads() => new("--threads") { Description = "ONNX Runtime intra-op threads (0: one per core)", DefaultValueFactory = _ => 0 };
    /// <summary>
    /// <c>--min-fidelity COSINE</c>, the one flag of <see cref="Evaluation.FidelityOptions.MinFidelity"/> in every command that changes what a
    /// model computes (and quantization's float fallback): a result whose worst output is under it against the input model is refused.
    /// </summary>
    public static Option<double?> MinFidelity(string? description = null) => new("--min-fidelity")
    {
        Description = description ?? "Refuse the result (exit 2, nothing written) when an output's cosine similarity to the input model's, measured in ONNX Runtime, is under this, e.g. 0.99",
    };
    public static Option<string[]> Dims() => new("--dim") { Description = "Size of a symbolic input dimension, NAME=SIZE (repeatable)", AllowMultipleArgumentsPerToken = true };

    /// <summary>Parses <c>NAME=SIZE</c> pairs.</summary>
    public static IReadOnlyDictionary<string, long> ParseDims(string[]? values)
    {
        var dims = new Dictionary<string, long>();
        foreach (var v in values ?? Array.Empty<string>())
        {
            var parts = v.Split('=', 2);
            if (parts.Length != 2 || parts[0].Length == 0 || !long.TryParse(parts[1], out var size) || size < 1)
                throw new OptionsException($"--dim '{v}' is not NAME=SIZE with a positive size; write e.g. --dim seq=8");
            dims[parts[0]] = size;
        }
        return dims;
    }

    /// <summary>Parses a size in bytes: a whole number, optionally with a unit (KB, MB, GB: powers of 1000; KiB, MiB, GiB: of 1024), e.g. <c>300MB</c>.</summary>
    public static long ParseBytes(string option, string value)
    {
        var m = System.Text.RegularExpressions.Regex.Match(value.Trim(), @"^(\d+(?:\.\d+)?)\s*([KMG]i?B|B)?$", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
        if (!m.Success || !double.TryParse(m.Groups[1].Value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var number))
            throw new OptionsException($"{option} '{Text.Message.Name(value)}' is not a size; write bytes or a size with a unit, e.g. {option} 300MB or {option} 64MiB");
        var unit = m.Groups[2].Value.ToUpperInvariant();
        double scale = unit switch { "KB" => 1e3, "MB" => 1e6, "GB" => 1e9, "KIB" => 1024, "MIB" => 1 << 20, "GIB" => 1 << 30, _ => 1 };
        var bytes = number * scale;
        return bytes is >= 1 and < long.MaxValue ? (long)bytes : throw new OptionsException($"{option} '{Text.Message.Name(value)}' is out of range; give a positive size");
    }

    /// <summary>Parses a comma-separated list of positive integers such as <c>1,256</c>.</summary>
    public static int[] ParseIntList(string option, string value)
    {
        var parts = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var result = new int[parts.Length];
        for (var i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], out result[i]) || result[i] < 1)
                throw new OptionsException($"{option} '{value}' must be positive integers separated by commas, e.g. {option} 1,256");
        return result.Length > 0 ? result : throw new OptionsException($"{option} needs at least one value, e.g. {option} 1,256");
    }

    /// <summary>
    /// Refuses, before any work, an output that would replace an input (by file identity, external data
    /// included), that is not a plain file path (see <see cref="OutputGuard.Check"/>) or whose directory takes no new file
    /// (<see cref="OutputGuard.CheckWritable"/>); returns the guard
    /// the command's writers use.
    /// </summary>
    public static OutputGuard CheckOutput(string output, params string?[] inputs)
    {
        var guard = OutputGuard.Protecting(inputs);
        guard.Check(output);
        OutputGuard.CheckWritable(output);  // a place no file can be written to is refused now, not after the work
        return guard;
    }

    /// <summary>Checks a non-negative limit option.</summary>
    /// <summary>The checks of a command whose fine-tuning is optional (--finetune-epochs 0 by default) and trains on --data, in the command's words.</summary>
    public static Training.FineTuning.FineTuneOptions CheckFineTune(Training.FineTuning.FineTuneOptions tuning, bool hasData)
    {
        if (tuning.Epochs < 0) throw new OptionsException($"--finetune-epochs must be 0 or more, got {tuning.Epochs}");
        if (tuning.Epochs > 0 && !hasData) throw new OptionsException("--finetune-epochs needs --data (fine-tuning trains on it)");
        if (tuning.Distillation is not null && tuning.Epochs == 0) throw new OptionsException("--teacher distills while fine-tuning; give --finetune-epochs (at least 1) and --data");
        return tuning.CheckOptional(hasData, hasTeacher: tuning.Distillation is not null);
    }

    public static int? CheckLimit(int? limit) => limit is < 1
        ? throw new OptionsException($"--limit {limit} is out of range; use a positive number of samples")
        : limit;
}
