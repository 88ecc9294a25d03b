using System.CommandLine;
using Shrink.IO;

namespace Shrink.Cli;

/// <summary>Options shared by several commands, and the parsing of their values.</summary>
internal static class Options
{
    public static Argument<string> Model() => new("MODEL") { Description = "ONNX model file" };
    public static Option<bool> Json() => new("--json") { Description = "Print one JSON document on stdout instead of tables" };
    public static Option<int> Threads() => new("--threads") { Description = "ONNX Runtime intra-op threads (0: one per core)", DefaultValueFactory = _ => 0 };
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
    /// included) or that is not a plain file path (see <see cref="OutputGuard.Check"/>); returns the guard
    /// the command's writers use.
    /// </summary>
    public static OutputGuard CheckOutput(string output, params string?[] inputs)
    {
        var guard = OutputGuard.Protecting(inputs);
        guard.Check(output);
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
