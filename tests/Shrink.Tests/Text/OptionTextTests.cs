using System.Globalization;
using Shrink.Text;
using Xunit;

namespace Shrink.Tests.Text;

/// <summary>Messages that name options: the library's words by default, any reader's names when rendered.</summary>
public class OptionTextTests
{
    private static readonly OptionName Resume = OptionName.Of("Resume");
    private static readonly OptionName RunDirectory = OptionName.Of("RunDirectory");
    private static readonly OptionNaming Flags = o => "--" + OptionsException.Kebab(o.Property);

    [Fact]
    public void TheLibrarySaysOptionsInWordsAndAReaderNamesThemItsOwnWay()
    {
        var text = OptionText.Of($"no checkpoint at {"/r/checkpoint.bin"}; start the run without {Resume} (or use a new {RunDirectory})");

        Assert.Equal("no checkpoint at /r/checkpoint.bin; start the run without resume (or use a new run directory)", text.ToString());
        Assert.Equal("no checkpoint at /r/checkpoint.bin; start the run without --resume (or use a new --run-directory)", text.Render(Flags));
        Assert.Equal(new[] { "Resume", "RunDirectory" }, text.Options.Select(o => o.Property));
    }

    [Fact]
    public void NestedMessagesAreRenderedWithTheSameNamesAndTheirOptionsListed()
    {
        var advice = OptionText.Of($"continue with {Resume}");
        var text = OptionText.Of($"cannot write {"m.json"}: disk full; {advice}");

        Assert.Equal("cannot write m.json: disk full; continue with resume", text.ToString());
        Assert.Equal("cannot write m.json: disk full; continue with --resume", text.Render(Flags));
        Assert.Equal("Resume", Assert.Single(text.Options).Property);
    }

    [Fact]
    public void OtherHolesAreFormattedAsAnInterpolatedStringFormatsThem()
    {
        var (ratio, count, big) = (0.98765, 1234567L, 1.5e-7);
        var previous = CultureInfo.CurrentCulture;
        foreach (var culture in new[] { CultureInfo.InvariantCulture, CultureInfo.GetCultureInfo("de-DE") })
        {
            CultureInfo.CurrentCulture = culture;
            try
            {
                Assert.Equal($"{ratio:P2} of {count:N0}, {big}, {{braces}}, [{"x",4}]", OptionText.Of($"{ratio:P2} of {count:N0}, {big}, {{braces}}, [{"x",4}]").ToString());
            }
            finally { CultureInfo.CurrentCulture = previous; }
        }
    }

    [Fact]
    public void APlainMessageIsItsTextEvenWithBraces()
    {
        var text = OptionText.Plain("write e.g. {\"conv1\": 0.5} {0}");
        Assert.Equal("write e.g. {\"conv1\": 0.5} {0}", text.ToString());
        Assert.Equal(text.ToString(), text.Render(Flags));
        Assert.Empty(text.Options);
    }

    [Fact]
    public void ThenEditsTheRenderedText()
    {
        var text = OptionText.Of($"mend it with {Resume}.").Then(s => s.TrimEnd('.')).Then(s => s + "!");
        Assert.Equal("mend it with resume!", text.ToString());
        Assert.Equal("mend it with --resume!", text.Render(Flags));
    }

    [Fact]
    public void AnOptionNameHasWordsOfItsOwnWhenGiven()
    {
        Assert.Equal(new OptionName("ChannelMultiple", "channel multiple"), OptionName.Of("ChannelMultiple"));
        Assert.Equal("output", OptionName.Of("Output", "output").ToString());
        Assert.Throws<ArgumentException>(() => OptionName.Of(""));
    }

    [Fact]
    public void UserErrorsKeepTheirWording()
    {
        var typed = new OptionsException(OptionText.Of($"start the run without {Resume}"));
        Assert.Equal("start the run without resume", typed.Message);
        Assert.Equal("start the run without --resume", typed.Wording.Render(Flags));
        Assert.Null(typed.Option);

        var plain = new DataException("no {labels} here");
        Assert.Equal("no {labels} here", plain.Wording.Render(Flags));

        var property = OptionsException.For("ChannelMultiple", "must be at least 1, got 0");
        Assert.Equal("channel multiple must be at least 1, got 0", property.Message);
        Assert.Equal("--channel-multiple must be at least 1, got 0", property.Wording.Render(Flags));
        Assert.Equal(("ChannelMultiple", "must be at least 1, got 0"), (property.Option, property.Problem));
    }
}
