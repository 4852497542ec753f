using LongContext.Attention.Blockwise;
using static TorchSharp.torch;

namespace LongContext.Attention.Tests;

/// <summary>The blockwise primitive and its merge against a float64 reference written out in loops, on fresh random inputs.</summary>
public sealed class BlockAttentionTests
{
    private const double Tolerance = 2e-5;

    [Theory]
    [InlineData(false, 0, 0)]
    [InlineData(true, 0, 0)]
    [InlineData(true, 7, 3)]
    [InlineData(true, 20, 0)]
    public void Attend_MatchesTheFloat64Reference_WithGroupedQueryHeads(bool causal, long queryOffset, long keyOffset)
    {
        var (q, k, v) = Reference.Inputs(batch: 2, queryHeads: 4, kvHeads: 2, lq: 5, lk: 9, d: 8);
        var mask = new BlockMask(causal, queryOffset, keyOffset);

        var (output, lse) = BlockAttention.Attend(q, k, v, mask);
        var (expectedOut, expectedLse) = Reference.Attention(q, k, v, mask);

        AssertClose(expectedOut, output);
        AssertClose(expectedLse, lse);
    }

    [Fact]
    public void Merge_OfKeyBlocks_EqualsAttentionOverAllKeys_EvenWhereABlockSeesNothing()
    {
        var (q, k, v) = Reference.Inputs(batch: 1, queryHeads: 6, kvHeads: 3, lq: 6, lk: 12, d: 16);
        var full = BlockAttention.Attend(q, k, v, new BlockMask(Causal: true, QueryOffset: 3));

        // Keys 0–5 and 6–11: under the causal mask the first query rows see no key of the second block.
        var first = BlockAttention.Attend(q, k[.., .., ..6], v[.., .., ..6], new BlockMask(true, 3, 0));
        var second = BlockAttention.Attend(q, k[.., .., 6..], v[.., .., 6..], new BlockMask(true, 3, 6));
        var merged = BlockAttention.Merge(first.Output, first.LogSumExp, second.Output, second.LogSumExp);

        Assert.True(second.LogSumExp[0, 0, 0].item<float>() is float.NegativeInfinity);
        AssertClose(full.Output, merged.Output);
        AssertClose(full.LogSumExp, merged.LogSumExp);
    }

    [Fact]
    public void RowsThatSeeNoKey_GiveZeroOutput_AndMinusInfinity_NotNaN()
    {
        var (q, k, v) = Reference.Inputs(batch: 1, queryHeads: 2, kvHeads: 2, lq: 3, lk: 4, d: 4);

        // Queries at positions 0–2, keys at 10–13: causally none is visible.
        var (output, lse) = BlockAttention.Attend(q, k, v, new BlockMask(true, 0, 10));
        var merged = BlockAttention.Merge(output, lse, output, lse);

        Assert.Equal(0, output.abs().max().item<float>());
        Assert.True(lse.isneginf().all().item<bool>());
        Assert.False(merged.Output.isnan().any().item<bool>());
        Assert.True(merged.LogSumExp.isneginf().all().item<bool>());
    }

    [Fact]
    public void LargeLogits_StayFinite_AndMatchTheReference()
    {
        var (q, k, v) = Reference.Inputs(batch: 1, queryHeads: 2, kvHeads: 1, lq: 4, lk: 8, d: 32, magnitude: 40);

        var whole = BlockAttention.Attend(q, k, v);
        var a = BlockAttention.Attend(q, k[.., .., ..3], v[.., .., ..3]);
        var b = BlockAttention.Attend(q, k[.., .., 3..], v[.., .., 3..]);
        var merged = BlockAttention.Merge(a.Output, a.LogSumExp, b.Output, b.LogSumExp);
        var (expectedOut, expectedLse) = Reference.Attention(q, k, v, BlockMask.None);

        Assert.True(whole.LogSumExp.isfinite().all().item<bool>());
        AssertClose(expectedOut, merged.Output, relative: true);
        AssertClose(expectedLse, merged.LogSumExp, relative: true);
    }

    [Fact]
    public void HalfPrecisionInputs_AccumulateInFloat32()
    {
        var (q, k, v) = Reference.Inputs(batch: 1, queryHeads: 2, kvHeads: 2, lq: 4, lk: 64, d: 16);

        var (output, lse) = BlockAttention.Attend(q.to(ScalarType.BFloat16), k.to(ScalarType.BFloat16), v.to(ScalarType.BFloat16));
        var (expected, _) = Reference.Attention(q.to(ScalarType.BFloat16).to(ScalarType.Float32), k.to(ScalarType.BFloat16).to(ScalarType.Float32), v.to(ScalarType.BFloat16).to(ScalarType.Float32), BlockMask.None);

        Assert.Equal(ScalarType.BFloat16, output.dtype);
        Assert.Equal(ScalarType.Float32, lse.dtype);
        // bfloat16 keeps 8 bits of mantissa: the output is right to its own precision.
        Assert.True((output.to(ScalarType.Float64) - expected).abs().max().item<double>() < 1e-2);
    }

    private static void AssertClose(Tensor expected, Tensor actual, bool relative = false)
    {
        var e = expected.to(ScalarType.Float64);
        var a = actual.to(ScalarType.Float64);
        Assert.Equal(e.shape, a.shape);
        Assert.True((e.isneginf() == a.isneginf()).all().item<bool>(), "−inf in different places");
        var finite = e.isfinite();
        var difference = (e - a).abs().masked_fill(finite.logical_not(), 0);
        var bound = relative ? (e.abs().masked_fill(finite.logical_not(), 0) * 1e-5 + Tolerance) : full_like(e, Tolerance);
        var worst = (difference - bound).max().item<double>();
        Assert.True(worst <= 0, $"differs from the float64 reference by up to {difference.max().item<double>():E2}");
    }
}
