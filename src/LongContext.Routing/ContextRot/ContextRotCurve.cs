namespace LongContext.Routing.ContextRot;

/// <summary>Measured or published recall at one context length (needle depth averaged out).</summary>
public sealed record RecallPoint(long Tokens, double Recall);

/// <summary>
/// Expected recall of a fact as a function of context length and of its depth in the context.
/// Length: piecewise linear in log(tokens) through the points, flat beyond both ends.
/// Depth: a U shape (lost in the middle): facts at the start or end keep the length's recall,
/// a fact at the middle loses <see cref="MiddleDip"/> of it; the curve is a parabola in depth.
/// </summary>
public sealed record ContextRotCurve
{
    public string Name { get; init; } = "";

    /// <summary>Where the numbers come from: a paper, a benchmark, a calibration run.</summary>
    public string Source { get; init; } = "";

    public IReadOnlyList<RecallPoint> Points { get; init; } = [];

    /// <summary>Relative recall lost at depth 0.5 compared with depth 0 or 1, in [0, 1).</summary>
    public double MiddleDip { get; init; }

    /// <summary>Recall at this length, averaged over depth as the points are.</summary>
    public double RecallAtLength(long tokens)
    {
        if (Points.Count == 0)
        {
            throw new InvalidOperationException($"Context-rot curve '{Name}' has no points.");
        }

        var x = Math.Log(Math.Max(tokens, 1));
        if (tokens <= Points[0].Tokens)
        {
            return Points[0].Recall;
        }

        for (var i = 1; i < Points.Count; i++)
        {
            if (tokens <= Points[i].Tokens)
            {
                var (a, b) = (Points[i - 1], Points[i]);
                var t = (x - Math.Log(a.Tokens)) / (Math.Log(b.Tokens) - Math.Log(a.Tokens));
                return a.Recall + t * (b.Recall - a.Recall);
            }
        }

        return Points[^1].Recall;
    }

    /// <summary>Multiplier for a fact at <paramref name="depth"/> (0 = start, 1 = end) relative to the depth average.</summary>
    public double DepthFactor(double depth)
    {
        var d = Math.Clamp(depth, 0, 1);
        var centred = 2 * d - 1;
        var shape = 1 - MiddleDip * (1 - centred * centred);

        // The points are depth averages: the mean of 1 − dip·(1 − c²) over uniform depth is 1 − 2·dip/3.
        return shape / (1 - 2 * MiddleDip / 3);
    }

    public double ExpectedRecall(long tokens, double depth) => Math.Clamp(RecallAtLength(tokens) * DepthFactor(depth), 0, 1);
}
