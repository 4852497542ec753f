using LongContext.Routing.Catalog;
using LongContext.Routing.ContextRot;
using LongContext.Routing.Memory;
using LongContext.Routing.Pricing;

namespace LongContext.Routing.Tests;

/// <summary>The seed article's models and curves, as the routing core sees them.</summary>
internal static class TestCatalog
{
    public static ContextRotCurve Typical { get; } = new()
    {
        Name = "typical",
        Source = "seed article: <32K ≥ 90%, 64–128K 80–90%, 256–512K 60–80%, ≥1M 26–60%",
        MiddleDip = 0.15,
        Points = [new(32_000, 0.92), new(64_000, 0.88), new(128_000, 0.82), new(256_000, 0.75), new(512_000, 0.64), new(1_000_000, 0.43), new(2_000_000, 0.30)],
    };

    public static ContextRotCurve Gemini { get; } = new()
    {
        Name = "gemini-3-pro-mrcr-v2",
        Source = "seed article: Gemini 3 Pro MRCR v2 77% at 128K, 26.3% at 1M",
        MiddleDip = 0.15,
        Points = [new(32_000, 0.90), new(128_000, 0.77), new(1_000_000, 0.263)],
    };

    public static KvCacheShape Llama70B { get; } = new() { Layers = 80, KvHeads = 8, HeadDim = 128, BytesPerValue = 2 };

    public static ModelProfile Gpt52 { get; } = new()
    {
        Id = "gpt-5.2",
        ContextWindow = 400_000,
        Prices = new ModelPrices { InputPerMillion = 1.50m, CachedInputPerMillion = 0.15m, OutputPerMillion = 12m },
        Tokenizer = "o200k_base",
        ContextRot = Typical,
    };

    public static ModelProfile Gemini3Pro { get; } = new()
    {
        Id = "gemini-3-pro",
        ContextWindow = 2_000_000,
        Prices = new ModelPrices { InputPerMillion = 2.00m, OutputPerMillion = 12m },
        ContextRot = Gemini,
    };

    public static ModelProfile Mini { get; } = new()
    {
        Id = "mini",
        ContextWindow = 128_000,
        Prices = new ModelPrices { InputPerMillion = 0.15m, OutputPerMillion = 0.60m },
        Tokenizer = "o200k_base",
        ContextRot = Typical,
        ServesLongContext = false,
    };

    public static ModelProfile SelfHosted { get; } = new()
    {
        Id = "self-hosted",
        ContextWindow = 1_048_576,
        Prices = new SelfHostedCost { GpuHourUsd = 2.5m, Gpus = 8, PrefillTokensPerSecond = 40_000, DecodeTokensPerSecond = 400 }.ToPrices(),
        ContextRot = Typical,
        ServesRag = false,
        SelfHosted = new SelfHostedProfile
        {
            Kv = Llama70B,
            Gpus = 8,
            GpuMemoryBytes = 141_000_000_000,
            ReservedBytesPerGpu = 40_000_000_000,
            Attention =
            [
                new AttentionProfile { Method = "full", RecallFactor = 1.0 },
                new AttentionProfile { Method = "ring", RecallFactor = 1.0, ShardsKvOverGpus = true, ThroughputFactor = 0.8 },
                new AttentionProfile { Method = "star", RecallFactor = 0.98, ShardsKvOverGpus = true, ThroughputFactor = 4 },
                new AttentionProfile { Method = "infini", RecallFactor = 0.95, KvTokenLimit = 65_536, ThroughputFactor = 1.5 },
            ],
        },
    };

    public static IReadOnlyList<ModelProfile> All { get; } = [Mini, Gpt52, Gemini3Pro, SelfHosted];
}
