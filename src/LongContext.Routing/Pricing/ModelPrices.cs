namespace LongContext.Routing.Pricing;

/// <summary>Prices in US dollars per one million tokens.</summary>
public sealed record ModelPrices
{
    public decimal InputPerMillion { get; init; }

    /// <summary>Price of input tokens served from the provider's prompt cache; null when none is offered.</summary>
    public decimal? CachedInputPerMillion { get; init; }

    public decimal OutputPerMillion { get; init; }

    public decimal Cost(long inputTokens, long cachedInputTokens, long outputTokens)
    {
        var cached = CachedInputPerMillion is null ? 0 : Math.Clamp(cachedInputTokens, 0, inputTokens);
        var uncached = inputTokens - cached;
        return (uncached * InputPerMillion + cached * (CachedInputPerMillion ?? InputPerMillion) + outputTokens * OutputPerMillion) / 1_000_000m;
    }
}

/// <summary>
/// A self-hosted model has no price list: its per-token price is what its GPUs cost per hour
/// divided by how many tokens they push through in that hour.
/// </summary>
public sealed record SelfHostedCost
{
    public decimal GpuHourUsd { get; init; }

    public int Gpus { get; init; } = 1;

    /// <summary>Prompt tokens processed per second across all the GPUs (measured, see docs/benchmarks.md).</summary>
    public double PrefillTokensPerSecond { get; init; }

    public double DecodeTokensPerSecond { get; init; }

    public ModelPrices ToPrices()
    {
        var dollarsPerSecond = GpuHourUsd * Gpus / 3600m;
        return new ModelPrices
        {
            InputPerMillion = decimal.Round(dollarsPerSecond / (decimal)PrefillTokensPerSecond * 1_000_000m, 6),
            OutputPerMillion = decimal.Round(dollarsPerSecond / (decimal)DecodeTokensPerSecond * 1_000_000m, 6),
        };
    }
}
