using LongContext.Attention.Blockwise;
using LongContext.Attention.Star;
using static TorchSharp.torch;

namespace LongContext.Attention.Tests;

public sealed class StarAttentionTests
{
    [Fact]
    public void OneBlock_EqualsFullCausalAttention()
    {
        var (q, k, v) = Reference.Inputs(batch: 1, queryHeads: 4, kvHeads: 2, lq: 23, lk: 23, d: 8);

        var star = StarAttention.EncodeContext(q, k, v, blockSize: 64);
        var (expected, _) = Reference.Attention(q, k, v, new BlockMask(Causal: true));

        Assert.True((star.to(ScalarType.Float64) - expected).abs().max().item<double>() <= 1e-5);
    }

    [Fact]
    public void Blocks_SeeTheAnchorAndThemselves_Only()
    {
        var (q, k, v) = Reference.Inputs(batch: 1, queryHeads: 2, kvHeads: 2, lq: 30, lk: 30, d: 8);

        var star = StarAttention.EncodeContext(q, k, v, blockSize: 10, anchorSize: 4);

        // Third block (positions 20–29): attention over keys 0–3 (anchor) and 20–29 causally, by definition.
        var keys = cat([k.narrow(2, 0, 4), k.narrow(2, 20, 10)], dim: 2);
        var values = cat([v.narrow(2, 0, 4), v.narrow(2, 20, 10)], dim: 2);
        var scores = matmul(q.narrow(2, 20, 10).to(ScalarType.Float64), keys.to(ScalarType.Float64).transpose(-2, -1)) / Math.Sqrt(8);
        var visible = cat([ones(10, 4, dtype: ScalarType.Bool), ones(10, 10, dtype: ScalarType.Bool).tril()], dim: 1);
        var expected = matmul(scores.masked_fill(visible.logical_not(), double.NegativeInfinity).softmax(-1), values.to(ScalarType.Float64));

        Assert.True((star.narrow(2, 20, 10).to(ScalarType.Float64) - expected).abs().max().item<double>() <= 1e-5);
    }

    [Fact]
    public void Phase2_EqualsAttentionOverTheConcatenatedCaches()
    {
        var (_, contextKeys, contextValues) = Reference.Inputs(batch: 2, queryHeads: 4, kvHeads: 2, lq: 1, lk: 41, d: 8);
        var (q, queryKeys, queryValues) = Reference.Inputs(batch: 2, queryHeads: 4, kvHeads: 2, lq: 5, lk: 5, d: 8);
        var blocks = new[] { (0L, 16L), (16L, 16L), (32L, 9L) }.Select(b => (contextKeys.narrow(2, b.Item1, b.Item2), contextValues.narrow(2, b.Item1, b.Item2))).ToList();

        var (output, lse) = StarAttention.AttendQuery(q, blocks, queryKeys, queryValues);

        // The definition: the queries (positions 41–45) over all 46 keys, causal.
        var allKeys = cat([contextKeys, queryKeys], dim: 2);
        var allValues = cat([contextValues, queryValues], dim: 2);
        var (expected, expectedLse) = Reference.Attention(q, allKeys, allValues, new BlockMask(Causal: true, QueryOffset: 41));
        Assert.True((output.to(ScalarType.Float64) - expected).abs().max().item<double>() <= 1e-5);
        Assert.True((lse.to(ScalarType.Float64) - expectedLse).abs().max().item<double>() <= 1e-5);
    }
}
