using LongContext.Routing.ContextRot;

namespace LongContext.Routing.Tests;

public sealed class ContextRotTests
{
    private static readonly ContextRotCurve TwoPoint = new()
    {
        Name = "two-point",
        MiddleDip = 0.3,
        Points = [new(32_000, 0.9), new(128_000, 0.8)],
    };

    [Fact]
    public void RecallAtLength_IsLinearInLogLength_AndFlatOutside()
    {
        Assert.Equal(0.9, TwoPoint.RecallAtLength(1_000), 9);
        Assert.Equal(0.85, TwoPoint.RecallAtLength(64_000), 9); // geometric midpoint of 32K and 128K
        Assert.Equal(0.8, TwoPoint.RecallAtLength(10_000_000), 9);
    }

    [Fact]
    public void DepthFactor_IsUShaped_AndAveragesToOne()
    {
        var ends = TwoPoint.DepthFactor(0);
        Assert.Equal(ends, TwoPoint.DepthFactor(1), 9);
        Assert.Equal(1 - 0.3, TwoPoint.DepthFactor(0.5) / ends, 9);
        Assert.True(TwoPoint.DepthFactor(0.25) > TwoPoint.DepthFactor(0.5));

        var average = Enumerable.Range(0, 10_001).Average(i => TwoPoint.DepthFactor(i / 10_000.0));
        Assert.Equal(1.0, average, 3);
    }

    [Fact]
    public void SeedArticleGeminiCurve_GivesPublishedMrcrPoints()
    {
        Assert.Equal(0.77, TestCatalog.Gemini.RecallAtLength(128_000), 9);
        Assert.Equal(0.263, TestCatalog.Gemini.RecallAtLength(1_000_000), 9);
    }

    [Fact]
    public void TypicalCurve_MatchesSeedArticleBands()
    {
        var curve = TestCatalog.Typical;
        Assert.True(curve.RecallAtLength(16_000) >= 0.90);
        Assert.InRange(curve.RecallAtLength(96_000), 0.80, 0.90);
        Assert.InRange(curve.RecallAtLength(384_000), 0.60, 0.80);
        Assert.InRange(curve.RecallAtLength(1_500_000), 0.26, 0.60);
    }
}
