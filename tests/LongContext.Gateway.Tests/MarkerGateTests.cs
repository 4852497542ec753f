using LongContext.Gateway.SelfRoute;

namespace LongContext.Gateway.Tests;

public sealed class MarkerGateTests
{
    private const string Marker = "[[INSUFFICIENT_CONTEXT]]";

    [Theory]
    [InlineData(new[] { "The", " answer" }, "Answer", 1)]
    [InlineData(new[] { "[[", "INSUFF", "ICIENT_CONTEXT]]" }, "Marker", 3)]
    [InlineData(new[] { "  ", "[[INSUFFICIENT_CONTEXT]]", " sorry" }, "Marker", 2)]
    [InlineData(new[] { "[", "1] says" }, "Answer", 2)]
    [InlineData(new[] { "[[INS", "IDE" }, "Answer", 2)]
    public void Verdict_IsReachedAtTheFirstPieceThatDecides(string[] pieces, string expected, int decidedAt)
    {
        var gate = new MarkerGate(Marker);

        var verdicts = pieces.Select(gate.Add).ToList();

        Assert.All(verdicts.Take(decidedAt - 1), v => Assert.Equal(MarkerVerdict.Undecided, v));
        Assert.Equal(expected, verdicts[decidedAt - 1].ToString());
        Assert.Equal(string.Concat(pieces), gate.Text);
    }

    [Theory]
    [InlineData("[[INSUFFIC", "Marker")]
    [InlineData("   ", "Answer")]
    [InlineData("", "Answer")]
    public void StreamEndingUndecided_CountsACutOffMarkerAsTheMarker(string text, string expected)
    {
        var gate = new MarkerGate(Marker);
        gate.Add(text);

        Assert.Equal(expected, gate.Complete().ToString());
    }
}
