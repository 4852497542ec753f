namespace LongContext.Routing.Pricing;

/// <summary>Prices in US dollars per one million tokens.</summary>
public sealed record ModelPrices
{
    public decimal InputPerMillion { get; init; }

    /// <summary>Price of input tokens served from the provider's prompt cache; null when none is offered.</summary>
    public decimal? CachedInputPerMillion { get; init; }

    public decimal OutputPerMillion { get; init; }

    /// <summary>Prices that replace these for the whole request once its prompt is longer than a threshold (e.g. past 200K tokens).</summary>
    public LongPromptPrices? LongPrompt { get; init; }

    /// <summary>The prices that apply to a request with this many prompt tokens.</summary>
    public ModelPrices For(long inputTokens) =>
        LongPrompt is { } tier && inputTokens > tier.AbovePromptTokens
            ? new ModelPrices { InputPerMillion = tier.InputPerMillion, CachedInputPerMillion = tier.CachedInputPerMillion, OutputPerMillion = tier.OutputPerMillion }
            : this;

    public decimal Cost(long inputTokens, long cachedInputTokens, long outputTokens)
    {
        var prices = For(inputTokens);
        var cached = prices.CachedInputPerMillion is null ? 0 : Math.Clamp(cachedInputTokens, 0, inputTokens);
        var uncached = inputTokens - cached;
        return (uncached * prices.InputPerMillion + cached * (prices.CachedInputPerMillion ?? prices.InputPerMillion) + outputTokens * prices.OutputPerMillion) / 1_000_000m;
    }
}

/// <summary>A provider's long-prompt price tier: applies to every token of a request whose prompt exceeds the threshold.</summary>
public sealed record LongPromptPrices
{
    public long AbovePromptTokens { get; init; }

    public decimal InputPerMillion { get; init; }

    public decimal? CachedInputPerMillion { get; init; }

    public decimal OutputPerMillion { get; init; }
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
