using LongContext.Routing.ContextRot;

namespace LongContext.Routing.Tests;

public sealed class CalibrationTests
{
    [Fact]
    public void Fit_RecoversAKnownCurveFromSyntheticHits()
    {
        var truth = new ContextRotCurve
        {
            Name = "truth",
            MiddleDip = 0.2,
            // Depth-averaged recall low enough that no cell needs clamping at 1.
            Points = [new(4_000, 0.85), new(32_000, 0.8), new(128_000, 0.7), new(512_000, 0.55), new(1_000_000, 0.4)],
        };
        var random = new Random(20261201);
        long[] lengths = [4_000, 32_000, 128_000, 512_000, 1_000_000];
        var depths = Enumerable.Range(0, 11).Select(i => i / 10.0).ToArray();
        var results = new List<NeedleResult>();
        foreach (var length in lengths)
        {
            foreach (var depth in depths)
            {
                for (var trial = 0; trial < 400; trial++)
                {
                    results.Add(new NeedleResult(length, depth, random.NextDouble() < truth.ExpectedRecall(length, depth)));
                }
            }
        }

        var fit = CurveCalibration.Fit(results, "fitted", "synthetic");

        Assert.Equal(0.2, fit.Curve.MiddleDip, 1);
        foreach (var length in lengths)
        {
            Assert.InRange(fit.Curve.RecallAtLength(length), truth.RecallAtLength(length) - 0.03, truth.RecallAtLength(length) + 0.03);
        }

        Assert.Equal(55, fit.Cells);
        Assert.Equal(11, fit.HeldOutCells);
        Assert.NotNull(fit.HeldOutMeanAbsoluteError);
        Assert.True(fit.HeldOutMeanAbsoluteError < 0.05, $"held-out MAE {fit.HeldOutMeanAbsoluteError}");
    }

    [Fact]
    public void Fit_RecallPointsNeverRiseWithLength()
    {
        // A noisy longer length that scored better than a shorter one is pooled with it.
        NeedleResult[] results =
        [
            .. Enumerable.Repeat(new NeedleResult(8_000, 0.5, true), 8), .. Enumerable.Repeat(new NeedleResult(8_000, 0.5, false), 2),
            .. Enumerable.Repeat(new NeedleResult(16_000, 0.5, true), 9), .. Enumerable.Repeat(new NeedleResult(16_000, 0.5, false), 1),
            .. Enumerable.Repeat(new NeedleResult(64_000, 0.5, true), 3), .. Enumerable.Repeat(new NeedleResult(64_000, 0.5, false), 7),
        ];

        var curve = CurveCalibration.Fit(results, "noisy", "test").Curve;

        Assert.True(curve.Points.Zip(curve.Points.Skip(1)).All(p => p.First.Recall >= p.Second.Recall));
    }

    [Fact]
    public void Fit_NoResults_IsAClearError()
    {
        Assert.Throws<ArgumentException>(() => CurveCalibration.Fit([], "x", "y"));
    }
}
