namespace LongContext.Routing.ContextRot;

/// <summary>One needle-in-a-haystack probe: was the needle at this depth of this long a context found?</summary>
public readonly record struct NeedleResult(long Length, double Depth, bool Hit);

/// <summary>A fitted curve and how well it predicts cells it was not fitted on.</summary>
public sealed record CalibrationResult(ContextRotCurve Curve, int Samples, int Cells, int HeldOutCells, double? HeldOutMeanAbsoluteError, double? HeldOutRootMeanSquareError);

/// <summary>
/// Fits a <see cref="ContextRotCurve"/> to needle-in-a-haystack results: weighted least squares
/// for the depth dip (grid search) and the per-length recall, then a monotone (non-increasing in
/// length) smoothing of the recall points. Every fifth length×depth cell is held out to report
/// the fit's error on data it has not seen; the published curve is then fitted on all cells.
/// </summary>
public static class CurveCalibration
{
    private const int HoldOutEvery = 5;
    private const double DipStep = 0.005;
    private const double MaxDip = 0.9;

    public static CalibrationResult Fit(IReadOnlyCollection<NeedleResult> results, string name, string source)
    {
        if (results.Count == 0)
        {
            throw new ArgumentException("No needle results to calibrate from.", nameof(results));
        }

        var cells = results
            .GroupBy(r => (r.Length, Depth: Math.Round(Math.Clamp(r.Depth, 0, 1), 4)))
            .Select(g => new Cell(g.Key.Length, g.Key.Depth, g.Count(), g.Count(r => r.Hit) / (double)g.Count()))
            .OrderBy(c => c.Length).ThenBy(c => c.Depth)
            .ToList();

        double? mae = null, rmse = null;
        var heldOut = cells.Where((_, i) => i % HoldOutEvery == HoldOutEvery - 1).ToList();
        var training = cells.Where((_, i) => i % HoldOutEvery != HoldOutEvery - 1).ToList();
        if (heldOut.Count > 0 && training.Select(c => c.Length).Distinct().Any())
        {
            var trial = FitCells(training, name, source);
            var weight = heldOut.Sum(c => c.Count);
            mae = heldOut.Sum(c => c.Count * Math.Abs(trial.ExpectedRecall(c.Length, c.Depth) - c.Rate)) / weight;
            rmse = Math.Sqrt(heldOut.Sum(c => c.Count * Math.Pow(trial.ExpectedRecall(c.Length, c.Depth) - c.Rate, 2)) / weight);
        }

        return new CalibrationResult(FitCells(cells, name, source), results.Count, cells.Count, heldOut.Count, mae, rmse);
    }

    private static ContextRotCurve FitCells(IReadOnlyList<Cell> cells, string name, string source)
    {
        var lengths = cells.GroupBy(c => c.Length).OrderBy(g => g.Key).ToList();
        var bestDip = 0.0;
        var bestError = double.PositiveInfinity;
        for (var dip = 0.0; dip <= MaxDip + 1e-9; dip += DipStep)
        {
            var error = 0.0;
            foreach (var group in lengths)
            {
                var recall = LengthRecall(group, dip);
                error += group.Sum(c => c.Count * Math.Pow(recall * Factor(c.Depth, dip) - c.Rate, 2));
            }

            if (error < bestError - 1e-12)
            {
                (bestDip, bestError) = (dip, error);
            }
        }

        var points = lengths.Select(g => (g.Key, Recall: LengthRecall(g, bestDip), Weight: (double)g.Sum(c => c.Count))).ToList();
        var smoothed = NonIncreasing(points.Select(p => (p.Recall, p.Weight)).ToList());
        return new ContextRotCurve
        {
            Name = name,
            Source = source,
            MiddleDip = Math.Round(bestDip, 4),
            Points = [.. points.Select((p, i) => new RecallPoint(p.Key, Math.Round(Math.Clamp(smoothed[i], 0, 1), 4)))],
        };
    }

    /// <summary>Weighted least-squares recall for one length given the dip: Σ n·rate·g / Σ n·g².</summary>
    private static double LengthRecall(IEnumerable<Cell> cells, double dip)
    {
        double numerator = 0, denominator = 0;
        foreach (var c in cells)
        {
            var g = Factor(c.Depth, dip);
            numerator += c.Count * c.Rate * g;
            denominator += c.Count * g * g;
        }

        return denominator == 0 ? 0 : numerator / denominator;
    }

    private static double Factor(double depth, double dip) => new ContextRotCurve { MiddleDip = dip }.DepthFactor(depth);

    /// <summary>Pool-adjacent-violators: the closest non-increasing sequence in weighted least squares.</summary>
    private static double[] NonIncreasing(IReadOnlyList<(double Value, double Weight)> points)
    {
        var blocks = new List<(double Value, double Weight, int Size)>();
        foreach (var (value, weight) in points)
        {
            blocks.Add((value, weight, 1));
            while (blocks.Count > 1 && blocks[^2].Value < blocks[^1].Value)
            {
                var (b, a) = (blocks[^1], blocks[^2]);
                blocks.RemoveRange(blocks.Count - 2, 2);
                var w = a.Weight + b.Weight;
                blocks.Add(((a.Value * a.Weight + b.Value * b.Weight) / w, w, a.Size + b.Size));
            }
        }

        return [.. blocks.SelectMany(b => Enumerable.Repeat(b.Value, b.Size))];
    }

    private sealed record Cell(long Length, double Depth, int Count, double Rate);
}
