using Shrink.Search;
using Xunit;

namespace Shrink.Tests.Search;

/// <summary>The polls of a distributed study follow the trials: a quarter of the recent median duration, between 50 ms and the configured interval.</summary>
public class AdaptivePollTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);

    [Fact]
    public void BeforeAnyTrialFinishes_TheConfiguredIntervalIsUsed()
    {
        var poll = new AdaptivePoll(Interval);
        poll.Add(null);
        poll.Add(double.NaN);
        poll.Add(-1);
        Assert.Equal(Interval, poll.Next);
    }

    [Theory]
    [InlineData(0.5, 125)]    // half-second trials: looked at four times a trial
    [InlineData(10, 500)]     // long trials: never more often than configured
    [InlineData(0, 50)]       // instant trials: the floor
    [InlineData(0.1, 50)]
    public void TheWaitIsAQuarterOfTheMedianDuration_BetweenTheFloorAndTheInterval(double seconds, int expectedMs)
    {
        var poll = new AdaptivePoll(Interval);
        for (var i = 0; i < 5; i++) poll.Add(seconds);
        poll.Add(seconds * 100 + 30);   // one slow outlier does not move the median
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), poll.Next);
    }

    [Fact]
    public void OnlyTheLastSixteenTrialsCount()
    {
        var poll = new AdaptivePoll(Interval);
        for (var i = 0; i < 40; i++) poll.Add(10);
        for (var i = 0; i < 16; i++) poll.Add(0.4);
        Assert.Equal(TimeSpan.FromMilliseconds(100), poll.Next);
    }

    [Fact]
    public void AnIntervalUnderTheFloor_IsNeverExceeded()
    {
        var poll = new AdaptivePoll(TimeSpan.FromMilliseconds(20));
        for (var i = 0; i < 4; i++) poll.Add(0.01);
        Assert.Equal(TimeSpan.FromMilliseconds(20), poll.Next);
    }
}
