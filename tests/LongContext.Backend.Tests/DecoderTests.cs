using LongContext.Backend.Model;
using static TorchSharp.torch;

namespace LongContext.Backend.Tests;

public sealed class DecoderTests
{
    /// <summary>A small random decoder with grouped-query attention; fresh weights every run.</summary>
    internal static DecoderWeights RandomWeights(int vocabulary = 50) => DecoderWeights.Initialise(new DecoderConfig
    {
        VocabularySize = vocabulary,
        HiddenSize = 32,
        IntermediateSize = 64,
        Layers = 2,
        Heads = 4,
        KeyValueHeadsOrNull = 2,
        HeadDimensionOrNull = 8,
    }, Random.Shared.NextInt64());

    /// <summary>Initialised weights are small; scaling them makes attention sharp enough that a wrong mask shows in the logits.</summary>
    internal static DecoderWeights Sharpened(DecoderWeights weights)
    {
        using var noGrad = no_grad();
        foreach (var (name, parameter) in weights.Parameters)
        {
            if (name.Contains("_proj", StringComparison.Ordinal) || name.Contains("embed", StringComparison.Ordinal))
            {
                parameter.mul_(10);
            }
        }

        return weights;
    }

    private static Tensor Tokens(int length, int vocabulary = 50) =>
        tensor(Enumerable.Range(0, length).Select(_ => (long)Random.Shared.Next(vocabulary)).ToArray(), [1, length]);

    private static Tensor Prefill(Decoder decoder, Tensor tokens, AttentionSettings settings, long? queryStart = null)
    {
        using var cache = decoder.NewCache();
        return decoder.Forward(tokens, cache, settings, queryStart, allLogits: true);
    }

    private static double MaxDifference(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    [Theory]
    [InlineData(1, Attention.Ring.RingSharding.Zigzag)]
    [InlineData(3, Attention.Ring.RingSharding.Zigzag)]
    [InlineData(4, Attention.Ring.RingSharding.Contiguous)]
    public void RingPrefill_GivesFullAttentionsLogits(int ranks, Attention.Ring.RingSharding sharding)
    {
        using var weights = Sharpened(RandomWeights());
        var decoder = new Decoder(weights);
        using var noGrad = no_grad();
        var tokens = Tokens(37);

        var full = Prefill(decoder, tokens, new AttentionSettings());
        var ring = Prefill(decoder, tokens, new AttentionSettings { Method = AttentionMethod.Ring, RingRanks = ranks, RingSharding = sharding });

        Assert.True(MaxDifference(full, ring) < 1e-3, $"max |ring − full| = {MaxDifference(full, ring)}");
    }

    [Fact]
    public void StarWithOneBlock_GivesFullAttentionsLogits()
    {
        using var weights = Sharpened(RandomWeights());
        var decoder = new Decoder(weights);
        using var noGrad = no_grad();
        var tokens = Tokens(40);

        var full = Prefill(decoder, tokens, new AttentionSettings());
        var star = Prefill(decoder, tokens, new AttentionSettings { Method = AttentionMethod.Star, StarBlockTokens = 64 }, queryStart: 30);
        var starBlocks = Prefill(decoder, tokens, new AttentionSettings { Method = AttentionMethod.Star, StarBlockTokens = 8 }, queryStart: 30);

        Assert.True(MaxDifference(full, star) < 1e-3, $"max |star − full| = {MaxDifference(full, star)}");
        // With several blocks star is approximate: the check that the test can tell the two apart.
        Assert.True(MaxDifference(full, starBlocks) > 1e-3);
    }

    [Theory]
    [InlineData(AttentionMethod.Full)]
    [InlineData(AttentionMethod.Ring)]
    [InlineData(AttentionMethod.Star)]
    public void CachedDecoding_EqualsRecomputingTheWholeSequence(AttentionMethod method)
    {
        using var weights = Sharpened(RandomWeights());
        var decoder = new Decoder(weights);
        using var noGrad = no_grad();
        var tokens = Tokens(30);
        var settings = new AttentionSettings { Method = method, RingRanks = 3, StarBlockTokens = 64 };

        using var cache = decoder.NewCache();
        decoder.Forward(tokens.narrow(1, 0, 20), cache, settings, queryStart: 12).Dispose();
        var decoded = new List<Tensor>();
        for (var t = 20; t < 30; t++)
        {
            decoded.Add(decoder.Forward(tokens.narrow(1, t, 1), cache, settings));
        }

        var whole = Prefill(decoder, tokens, new AttentionSettings());
        for (var t = 20; t < 30; t++)
        {
            var expected = whole.narrow(1, t, 1);
            Assert.True(MaxDifference(expected, decoded[t - 20]) < 1e-3, $"position {t}: max difference {MaxDifference(expected, decoded[t - 20])}");
        }

        Assert.Equal(30, cache.NextPosition);
    }

    [Theory]
    [InlineData(AttentionMethod.Infini)]
    [InlineData(AttentionMethod.Sparse)]
    public void DecodingContinuesTheMethodsOwnPrefill(AttentionMethod method)
    {
        using var weights = Sharpened(RandomWeights());
        var decoder = new Decoder(weights);
        using var noGrad = no_grad();
        var tokens = Tokens(45);
        var settings = new AttentionSettings { Method = method, InfiniSegmentTokens = 8, SparseWindow = 6, SparseGlobalTokens = 2 };

        var whole = Prefill(decoder, tokens, settings);
        using var cache = decoder.NewCache();
        decoder.Forward(tokens.narrow(1, 0, 21), cache, settings).Dispose();
        for (var t = 21; t < 45; t++)
        {
            using var logits = decoder.Forward(tokens.narrow(1, t, 1), cache, settings);
            var expected = whole.narrow(1, t, 1);
            Assert.True(MaxDifference(expected, logits) < 1e-3, $"{method}, position {t}: max difference {MaxDifference(expected, logits)}");
        }

        var full = Prefill(decoder, tokens, new AttentionSettings());
        Assert.True(MaxDifference(full, whole) > 1e-3, "the method should differ from full attention at this length");
    }

    [Theory]
    [InlineData(KvPolicy.StreamingLlm)]
    [InlineData(KvPolicy.HeavyHitter)]
    [InlineData(KvPolicy.SnapKv)]
    [InlineData(KvPolicy.Quest)]
    [InlineData(KvPolicy.TwoStage)]
    public void CompressedCache_KeepsItsBudget_AndDecodes(KvPolicy policy)
    {
        using var weights = RandomWeights();
        var decoder = new Decoder(weights);
        using var noGrad = no_grad();
        var settings = new AttentionSettings { KvPolicy = policy, KvCompressionRatio = 4 };
        using var full = decoder.NewCache();
        using var compressed = decoder.NewCache();
        var tokens = Tokens(64);
        decoder.Forward(tokens, full, new AttentionSettings()).Dispose();
        decoder.Forward(tokens, compressed, settings).Dispose();

        using var logits = decoder.Forward(Tokens(1), compressed, settings);

        var evicting = policy is KvPolicy.StreamingLlm or KvPolicy.HeavyHitter or KvPolicy.SnapKv;
        Assert.True(evicting ? compressed.Bytes * 3 < full.Bytes : compressed.Bytes > full.Bytes, $"{compressed.Bytes} vs {full.Bytes} bytes");
        Assert.False(logits.isnan().any().item<bool>());
        Assert.Equal(65, compressed.NextPosition);
    }

    [Theory]
    [InlineData(Attention.Ring.RingSharding.Zigzag)]
    [InlineData(Attention.Ring.RingSharding.Contiguous)]
    public void ContextParallelPrefill_KeepsEachShardsCache_AndDecodesOverTheShards(Attention.Ring.RingSharding sharding)
    {
        using var weights = Sharpened(RandomWeights());
        using var decoder = new Decoder(weights, [CPU, CPU]);
        using var noGrad = no_grad();
        var tokens = Tokens(41);
        var settings = new AttentionSettings { Method = AttentionMethod.Ring, RingRanks = 4, RingSharding = sharding };

        using var cache = decoder.NewCache();
        using var last = decoder.Forward(tokens.narrow(1, 0, 33), cache, settings);
        var whole = Prefill(decoder, tokens, new AttentionSettings());

        // Each of the 4 ranks holds the keys of its own pieces (33 tokens: 8 or 9 each), none holds them all.
        foreach (var layer in cache.Layers)
        {
            Assert.NotNull(layer.Shards);
            Assert.Equal([9, 8, 8, 8], layer.Shards!.Select(s => s.Keys.shape[2]).Order().Reverse());
            Assert.Null(layer.Keys);
        }

        Assert.True(MaxDifference(whole.narrow(1, 32, 1), last) < 1e-3, $"prefill's last logits: {MaxDifference(whole.narrow(1, 32, 1), last)}");
        for (var t = 33; t < 41; t++)
        {
            using var logits = decoder.Forward(tokens.narrow(1, t, 1), cache, settings);
            Assert.True(MaxDifference(whole.narrow(1, t, 1), logits) < 1e-3, $"position {t}: max difference {MaxDifference(whole.narrow(1, t, 1), logits)}");
        }

        Assert.Equal(8, cache.Layers[0].Keys!.shape[2]);
    }

    [Fact]
    public void ContextParallelPrefill_WithAnEvictingPolicy_KeepsOneCompressedCache()
    {
        using var weights = RandomWeights();
        using var decoder = new Decoder(weights);
        using var noGrad = no_grad();
        var tokens = Tokens(64);
        var ring = new AttentionSettings { Method = AttentionMethod.Ring, RingRanks = 2, KvPolicy = KvPolicy.SnapKv, KvCompressionRatio = 4 };
        var full = new AttentionSettings { KvPolicy = KvPolicy.SnapKv, KvCompressionRatio = 4 };
        using var ringCache = decoder.NewCache();
        using var fullCache = decoder.NewCache();

        decoder.Forward(tokens, ringCache, ring).Dispose();
        decoder.Forward(tokens, fullCache, full).Dispose();

        // Same prompt, same policy: the same entries kept, whether the prefill was sharded or not.
        Assert.Null(ringCache.Layers[0].Shards);
        Assert.Equal(16, ringCache.Layers[0].Keys!.shape[2]);
        Assert.True(MaxDifference(fullCache.Layers[1].Keys!, ringCache.Layers[1].Keys!) < 1e-4);
    }

    [Fact]
    public void SelfExtend_DecodingContinuesItsPrefill_AndAWideWindowIsFullAttention()
    {
        using var weights = Sharpened(RandomWeights());
        using var decoder = new Decoder(weights);
        using var noGrad = no_grad();
        var tokens = Tokens(40);
        var settings = new AttentionSettings { SelfExtendGroup = 3, SelfExtendWindow = 6 };

        var whole = Prefill(decoder, tokens, settings);
        using var cache = decoder.NewCache();
        decoder.Forward(tokens.narrow(1, 0, 25), cache, settings).Dispose();
        for (var t = 25; t < 40; t++)
        {
            using var logits = decoder.Forward(tokens.narrow(1, t, 1), cache, settings);
            Assert.True(MaxDifference(whole.narrow(1, t, 1), logits) < 1e-3, $"position {t}: max difference {MaxDifference(whole.narrow(1, t, 1), logits)}");
        }

        var full = Prefill(decoder, tokens, new AttentionSettings());
        var wide = Prefill(decoder, tokens, settings with { SelfExtendWindow = 40 });
        Assert.True(MaxDifference(full, wide) < 1e-3, $"window over the whole sequence: {MaxDifference(full, wide)}");
        Assert.True(MaxDifference(full, whole) > 1e-3, "grouped positions should change the logits");
    }
}
