using LongContext.Routing.Memory;

namespace LongContext.Routing.Tests;

public sealed class KvMemoryPlannerTests
{
    // A 7B model without GQA: 32 layers, 32 KV heads of 128, FP16.
    private static readonly KvCacheShape SevenB = new() { Layers = 32, KvHeads = 32, HeadDim = 128, BytesPerValue = 2 };

    [Theory]
    [InlineData(4_096, 2L)]
    [InlineData(131_072, 64L)]
    [InlineData(1_048_576, 512L)]
    public void FullAttention_MatchesTheSeedArticlesTable_InGiB(long tokens, long gib)
    {
        Assert.Equal(gib << 30, KvMemoryPlanner.BytesPerDevice(SevenB, tokens, devices: 1, default));
    }

    [Fact]
    public void Ring_SplitsTheCacheOverTheDevices_FullKeepsItOnOne()
    {
        var full = KvMemoryPlanner.BytesPerDevice(SevenB, 1_048_576, devices: 8, new KvLayout());
        var ring = KvMemoryPlanner.BytesPerDevice(SevenB, 1_048_576, devices: 8, new KvLayout(ShardedOverDevices: true));

        Assert.Equal(512L << 30, full);
        Assert.Equal(64L << 30, ring);
    }

    [Fact]
    public void BoundedAndCompressedCaches_KeepWhatTheirMethodKeeps()
    {
        var infini = new KvLayout(TokenLimit: 4_096);
        var h2o = new KvLayout(CompressionRatio: 4);

        Assert.Equal(2L << 30, KvMemoryPlanner.BytesPerDevice(SevenB, 1_048_576, 1, infini));
        Assert.Equal(2L << 30, KvMemoryPlanner.BytesPerDevice(SevenB, 10_000_000, 1, infini));
        Assert.Equal(128L << 30, KvMemoryPlanner.BytesPerDevice(SevenB, 1_048_576, 1, h2o));
    }
}
