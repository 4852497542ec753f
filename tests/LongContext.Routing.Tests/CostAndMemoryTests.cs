using LongContext.Routing.Pricing;

namespace LongContext.Routing.Tests;

public sealed class CostAndMemoryTests
{
    [Fact]
    public void KvCache_Llama70BAtOneMillionTokensFp16Gqa_IsAbout328GB()
    {
        // 2 · 80 layers · 8 KV heads · 128 dims · 1,000,000 tokens · 2 bytes
        var bytes = TestCatalog.Llama70B.BytesFor(1_000_000);

        Assert.Equal(327_680_000_000L, bytes);
        Assert.Equal(328, Math.Round(bytes / 1e9));
    }

    [Fact]
    public void Cost_CachedInputIsPricedAsCached()
    {
        var prices = new ModelPrices { InputPerMillion = 2m, CachedInputPerMillion = 0.5m, OutputPerMillion = 10m };

        // 600K uncached × $2 + 400K cached × $0.50 + 1K out × $10, per million
        Assert.Equal(1.2m + 0.2m + 0.01m, prices.Cost(1_000_000, 400_000, 1_000));
    }

    [Fact]
    public void Cost_NoCachedPrice_CachedTokensPayFullPrice()
    {
        var prices = new ModelPrices { InputPerMillion = 2m, OutputPerMillion = 10m };

        Assert.Equal(2m, prices.Cost(1_000_000, 400_000, 0));
    }

    [Fact]
    public void SelfHostedPrice_IsGpuHoursOverThroughput()
    {
        // 8 GPUs × $2/h = $16/h; 40,000 prompt tokens/s = 144M tokens/h → $0.111111 per 1M
        var prices = new SelfHostedCost { GpuHourUsd = 2m, Gpus = 8, PrefillTokensPerSecond = 40_000, DecodeTokensPerSecond = 400 }.ToPrices();

        Assert.Equal(0.111111m, prices.InputPerMillion);
        Assert.Equal(11.111111m, prices.OutputPerMillion);
    }
}
