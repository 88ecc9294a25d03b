using System.Globalization;
using nietras.SeparatedValues;
using Shrink.Runtime;

namespace Shrink.Data.Sources;

/// <summary>
/// A CSV table with a header row (read with Sep; the separator — comma, semicolon, tab or bar — found from the header) as
/// a data source: the feature columns make one float32 input [F] (<see cref="CsvOptions.InputName"/>, <c>features</c>), the
/// label column the class labels — integer class indices, or names (every value not a number), which become indices in
/// ordinal order of the names. Tables are small: the whole table is read into memory on opening.
/// </summary>
public sealed class CsvSource : IDataSource
{
    private readonly InMemorySource _inner;

    private CsvSource(string path, InMemorySource inner, IReadOnlyList<string> features, string? labelColumn)
        => (Path, _inner, Features, LabelColumn) = (path, inner, features, labelColumn);

    /// <summary>Reads <paramref name="path"/> as <see cref="DataOptions.Csv"/> says.</summary>
    /// <exception cref="DataException">No header, a named column that does not exist (the columns listed), a cell that is not a number (row and column named), a label out of range.</exception>
    public static CsvSource Open(string path, DataOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var csv = options?.Csv ?? new CsvOptions();
        var (header, rows) = ReadTable(path);
        var label = FindLabelColumn(header, csv, path);
        var features = csv.Features ?? header.Where(h => h != label).ToArray();
        if (features.Length == 0) throw new DataException($"'{Text.Message.Name(path, 200)}' has no feature columns (only '{Text.Message.Name(label ?? "")}'); add the feature columns");
        var columns = features.Select(f => Column(header, f, path, "feature")).ToArray();
        var x = new float[rows.Count * columns.Length];
        for (var r = 0; r < rows.Count; r++)
            for (var j = 0; j < columns.Length; j++)
                x[r * columns.Length + j] = Number(rows[r], columns[j], features[j], path);
        (int[]? labels, int? classes, IReadOnlyList<string>? names) = label is null ? ((int[]?, int?, IReadOnlyList<string>?))(null, null, null) : Labels(rows, Column(header, label, path, "label"), label, path, options?.ClassCount);
        var name = $"CSV table {path}: {rows.Count.ToString("N0", CultureInfo.InvariantCulture)} rows of {features.Length} features"
            + (labels is null ? ", no labels" : $", {classes} classes ('{label}')");
        var tensor = new HostTensor(csv.InputName, x, [rows.Count, features.Length]);
        return new CsvSource(path, new InMemorySource(name, [tensor], labels, classes) { ClassNames = names }, features, label);
    }

    /// <summary>The table.</summary>
    public string Path { get; }

    /// <summary>The feature columns, in input order.</summary>
    public IReadOnlyList<string> Features { get; }

    /// <summary>The label column, or null.</summary>
    public string? LabelColumn { get; }

    /// <inheritdoc/>
    public string Name => _inner.Name;

    /// <inheritdoc/>
    public int Count => _inner.Count;

    /// <inheritdoc/>
    public IReadOnlyList<DataInput> Inputs => _inner.Inputs;

    /// <inheritdoc/>
    public int? ClassCount => _inner.ClassCount;

    /// <inheritdoc/>
    public IReadOnlyList<string>? ClassNames => _inner.ClassNames;

    /// <inheritdoc/>
    public DataBatch Read(int[] samples, int epoch = 0) => _inner.Read(samples, epoch);

    /// <inheritdoc/>
    public override string ToString() => Name;

    private static (string[] Header, List<Row> Rows) ReadTable(string path)
    {
        using var file = DataFiles.Open(path, "CSV file");
        try
        {
            using var reader = Sep.Reader(o => o with { HasHeader = true, Unescape = true, Trim = SepTrim.All }).From(file);
            var header = reader.Header.ColNames.ToArray();
            if (header.Length == 0 || header.All(string.IsNullOrEmpty))
                throw new DataException($"'{Text.Message.Name(path, 200)}' has no header row; give the column names on the first line");
            var rows = new List<Row>();
            foreach (var row in reader)
            {
                var cells = new string[header.Length];
                for (var i = 0; i < cells.Length; i++) cells[i] = row[i].ToString();
                rows.Add(new Row(row.RowIndex - 1, row.LineNumberFrom, cells)); // Sep counts the header as row 0
            }
            return (header, rows);
        }
        catch (InvalidDataException e)
        {
            throw new DataException($"'{Text.Message.Name(path, 200)}' is not a well-formed CSV table ({Text.Message.OneLine(e.Message, 160)}); give every row as many cells as the header", e);
        }
    }

    private static string? FindLabelColumn(string[] header, CsvOptions csv, string path)
    {
        if (csv.Unlabelled) return null;
        if (csv.LabelColumn is { } given) return Column(header, given, path, "label") >= 0 ? given : null;
        return header.Contains("label") ? "label" : null;
    }

    private static int Column(string[] header, string name, string path, string what)
    {
        var i = Array.IndexOf(header, name);
        return i >= 0 ? i : throw new DataException($"'{Text.Message.Name(path, 200)}' has no {what} column '{Text.Message.Name(name)}'; its columns are {Text.Message.List(header.Select(h => Text.Message.Name(h)), 20)}");
    }

    private static float Number(Row row, int column, string name, string path) =>
        float.TryParse(row.Cells[column], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
            : throw new DataException($"'{Text.Message.Name(path, 200)}' {row}, column '{Text.Message.Name(name)}': '{Text.Message.Name(row.Cells[column])}' is not a number; give a number in every feature cell");

    private static (int[], int, IReadOnlyList<string>?) Labels(List<Row> rows, int column, string label, string path, int? classCount)
    {
        var cells = rows.Select(r => r.Cells[column]).ToArray();
        if (cells.Length > 0 && cells.All(c => !double.TryParse(c, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
        {
            var names = cells.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
            var labels = cells.Select(c => Array.BinarySearch(names, c, StringComparer.Ordinal)).ToArray();
            DataChecks.Labels(labels, classCount ?? names.Length, labels.Length, $"'{Text.Message.Name(path, 200)}' column '{label}'");
            return (labels, classCount ?? names.Length, names);
        }
        var indices = new int[cells.Length];
        for (var r = 0; r < cells.Length; r++)
            indices[r] = int.TryParse(cells[r], NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0 ? v
                : throw new DataException($"'{Text.Message.Name(path, 200)}' {rows[r]}, column '{Text.Message.Name(label)}': '{Text.Message.Name(cells[r])}' is not a class index; give integer labels from 0, or class names in every row");
        var classes = classCount ?? (indices.Length == 0 ? 1 : indices.Max() + 1);
        DataChecks.Labels(indices, classes, indices.Length, $"'{Text.Message.Name(path, 200)}' column '{label}'");
        return (indices, classes, null);
    }

    /// <summary>A data row: its index (0 = the first after the header) and the file line it starts on.</summary>
    private sealed record Row(int Index, int Line, string[] Cells)
    {
        public override string ToString() => $"row {Index + 1} (line {Line})";
    }
}
