using Shrink.Text;
using Xunit;

namespace Shrink.Tests.Text;

/// <summary>Names and lists from files become safe one-line message text.</summary>
public class MessageTests
{
    [Theory]
    [InlineData("fc1.weight", "fc1.weight")]
    [InlineData("a\nb", "a\\nb")]
    [InlineData("a\tb", "a\\tb")]
    [InlineData("a\rb\u001b[31m", "a\\x0Db\\x1B[31m")]
    [InlineData("nul\0", "nul\\x00")]
    [InlineData("c1\u0085", "c1\\x85")]
    [InlineData("ls\u2028ps\u2029", "ls\\u2028ps\\u2029")]
    [InlineData("", "")]
    [InlineData("Gewicht-ß-重み", "Gewicht-ß-重み")]
    public void NameEscapesControlCharacters(string name, string expected) => Assert.Equal(expected, Message.Name(name));

    [Fact]
    public void NameCutsLongNamesAndSaysHowMuch()
    {
        Assert.Equal(new string('x', 80) + "…(+20 chars)", Message.Name(new string('x', 100)));
        Assert.Equal(new string('y', 80), Message.Name(new string('y', 80)));
        Assert.Equal("abc…(+3 chars)", Message.Name("abcdef", 3));
        Assert.Equal("a\\nb…(+1 chars)", Message.Name("a\nbc", 3)); // the cut counts characters of the name, not of the escapes
        Assert.Equal("a…(+3 chars)", Message.Name("a\U0001F600b", 2)); // a surrogate pair is kept whole or cut whole
        Assert.DoesNotContain('\n', Message.Name(string.Concat(Enumerable.Repeat("\n", 1000))));
    }

    [Fact]
    public void ListShowsTheFirstItemsAndCountsTheRest()
    {
        Assert.Equal("", Message.List(Array.Empty<string>()));
        Assert.Equal("a", Message.List(new[] { "a" }));
        Assert.Equal("a, b, c", Message.List(new[] { "a", "b", "c" }));
        Assert.Equal("a, b and 3 more", Message.List(new[] { "a", "b", "c", "d", "e" }, max: 2));
        Assert.Equal("3 more", Message.List(new[] { "a", "b", "c" }, max: 0));
        Assert.Equal(string.Join(", ", Enumerable.Range(0, 10)) + " and 999990 more", Message.List(Enumerable.Range(0, 1_000_000).Select(i => i.ToString())));
    }

    [Fact]
    public void MisuseIsAnArgumentError()
    {
        Assert.Throws<ArgumentNullException>(() => Message.Name(null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => Message.Name("a", -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Message.List(new[] { "a" }, -1));
    }

    [Fact]
    public void OneLineEscapesEverythingAndCutsTheMiddle()
    {
        Assert.Equal("error in 'a\\nb'", Message.OneLine("error in 'a\nb'\n"));
        var cut = Message.OneLine("head " + new string('x', 5000) + " tail", max: 100);
        Assert.StartsWith("head ", cut);
        Assert.EndsWith(" tail", cut);
        Assert.Contains("chars cut", cut);
        Assert.True(cut.Length < 140);
    }
}
