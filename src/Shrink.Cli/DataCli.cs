using Shrink.Data;
using Shrink.Ir;

namespace Shrink.Cli;

/// <summary>
/// <c>--data</c> for every command: the value is opened by <see cref="DataSources.Open"/> for the command's model, and
/// data that does not fit the model is refused with one line (<see cref="DataBinding"/>). A command that defaults to
/// Fashion-MNIST when <c>--data</c> is absent says so in that line and names the flags that mend it: never a silent fallback.
/// </summary>
internal static class DataCli
{
    public const string Description = "Data: a directory (Fashion-MNIST IDX files, an image folder), a file (.npy, .npz, .csv), a YAML dataset file, or 'embedded'; " +
        "without labels, accuracy gives way to fidelity to the original model (default: Fashion-MNIST from $SHRINK_DATA, /usr/share/datasets/fashion-mnist, else the embedded subset)";

    /// <summary>
    /// Opens <paramref name="spec"/> (null: the Fashion-MNIST default) for <paramref name="model"/> and checks that both splits
    /// fit it; <paramref name="mend"/> is what the user gives instead when the default does not fit.
    /// </summary>
    /// <exception cref="DataException">The data cannot be read, or does not fit the model.</exception>
    public static DataSplits Open(string? spec, Model model, string modelName, string mend = "give --data")
    {
        if (spec is not null) CheckPath(spec, "--data");
        var splits = DataSources.Open(spec, new DataOptions(), model);
        Check(splits, model, modelName, spec is null ? mend : null);
        return splits;
    }

    /// <summary>Opens <paramref name="spec"/> when given (null: no data).</summary>
    public static DataSplits? Optional(string? spec, Model model, string modelName) => spec is null ? null : Open(spec, model, modelName);

    /// <summary>Refuses splits that do not fit the model; with <paramref name="defaultMend"/> the data was the default, and the line says so.</summary>
    public static void Check(DataSplits splits, Model model, string modelName, string? defaultMend)
    {
        foreach (var split in new[] { splits.Test, splits.Train })
            if (DataBinding.Misfit(model, split, modelName) is { } reason)
                throw new DataException(defaultMend is null ? reason : Defaulted(reason, defaultMend));
    }

    /// <summary>A misfit of the default data: what the model takes and what Fashion-MNIST gives, then the flags to give.</summary>
    private static string Defaulted(string reason, string mend)
    {
        var cut = reason.LastIndexOf("; give ", StringComparison.Ordinal);
        return $"{(cut < 0 ? reason : reason[..cut])}; with no --data Shrink reads Fashion-MNIST, which does not fit: {mend}";
    }

    /// <summary>Refuses, before anything reads it, a path that names neither a directory nor a regular file (a FIFO would hang the reader).</summary>
    public static void CheckPath(string spec, string flag)
    {
        if (IO.FileIdentity.Of(spec).Kind != IO.FileKind.Directory && IO.FileIdentity.NotRegular(spec, flag) is { } problem) throw new DataException(problem);
    }

    /// <summary>How a command names its model in data messages.</summary>
    public static string Name(string path) => $"'{path}'";
}
