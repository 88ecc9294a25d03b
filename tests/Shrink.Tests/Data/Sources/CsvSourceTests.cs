using Shrink.Data;
using Shrink.Data.Sources;
using Xunit;

namespace Shrink.Tests.Data.Sources;

/// <summary>CSV tables: features and labels, class names, inputs only, and the one-line refusals.</summary>
public class CsvSourceTests
{
    [Fact]
    public void FeaturesAndTheLabelColumn_AreRead()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("t.csv"), "a,label,b\n1.5,2,-3\n0,0,1e2\n");

        var source = CsvSource.Open(dir.File("t.csv"));
        var batch = source.Read([0, 1]);

        Assert.Equal("features: float32[2]", source.Inputs[0].ToString());
        Assert.Equal([1.5f, -3f, 0f, 100f], (float[])batch.Inputs[0].Data);
        Assert.Equal([2, 0], batch.Labels);
        Assert.Equal(3, source.ClassCount);
        Assert.Equal($"CSV table {dir.File("t.csv")}: 2 rows of 2 features, 3 classes ('label')", source.Name);
    }

    [Fact]
    public void ClassNames_BecomeIndicesInNameOrder_SemicolonsFound()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("iris.csv"), "width;species\n1;virginica\n2;setosa\n3;virginica\n");

        var splits = DataSources.Open(dir.File("iris.csv"), new DataOptions { Csv = new CsvOptions { LabelColumn = "species", InputName = "x" } });

        Assert.Equal(["setosa", "virginica"], splits.Train.ClassNames!);
        Assert.Equal([1, 0, 1], splits.Train.Read([0, 1, 2]).Labels);
        Assert.Equal("x", splits.Train.Inputs[0].Name);
    }

    [Fact]
    public void Unlabelled_ReadsInputsOnly()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("t.csv"), "label,b\n1,2\n");

        var source = CsvSource.Open(dir.File("t.csv"), new DataOptions { Csv = new CsvOptions { Unlabelled = true } });

        Assert.Null(source.ClassCount);
        Assert.Null(source.Read([0]).Labels);
        Assert.Equal([1f, 2f], (float[])source.Read([0]).Inputs[0].Data);
    }

    [Fact]
    public void ACellThatIsNotANumber_NamesRowAndColumn()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("t.csv"), "a,b,label\n1,2,0\n3,oops,1\n");

        var e = Assert.Throws<DataException>(() => CsvSource.Open(dir.File("t.csv")));

        Assert.Equal($"'{dir.File("t.csv")}' row 2 (line 3), column 'b': 'oops' is not a number; give a number in every feature cell", e.Message);
    }

    [Fact]
    public void ALabelColumnThatDoesNotExist_ListsTheColumns()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("t.csv"), "a,b,target\n1,2,0\n");

        var e = Assert.Throws<DataException>(() => CsvSource.Open(dir.File("t.csv"), new DataOptions { Csv = new CsvOptions { LabelColumn = "class" } }));

        Assert.Equal($"'{dir.File("t.csv")}' has no label column 'class'; its columns are a, b, target", e.Message);
    }

    [Fact]
    public void ARowWithTooFewCells_IsOneLine()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("t.csv"), "a,b\n1,2\n3\n");

        var e = Assert.Throws<DataException>(() => CsvSource.Open(dir.File("t.csv")));

        Assert.StartsWith($"'{dir.File("t.csv")}' is not a well-formed CSV table (", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
