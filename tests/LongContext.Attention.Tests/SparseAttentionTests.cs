using LongContext.Attention.Sparse;
using static TorchSharp.torch;

namespace LongContext.Attention.Tests;

public sealed class SparseAttentionTests
{
    [Theory]
    [InlineData(true, 8, 16)]
    [InlineData(false, 9, 16)]
    [InlineData(true, 4, 5)]
    [InlineData(false, 64, 7)]
    public void LocalPlusGlobal_EqualsMaskedFullAttention(bool causal, int window, int blockSize)
    {
        var (q, k, v) = Reference.Inputs(batch: 1, queryHeads: 4, kvHeads: 2, lq: 45, lk: 45, d: 8);
        long[] globals = [0, 17, 44];

        var sparse = SparseAttention.Attend(q, k, v, window, globals, causal, blockSize);

        // The definition, with the n×n mask written out (in the test only).
        var (before, after) = causal ? (window - 1, 0) : ((window - 1) / 2, window / 2);
        var allowed = new bool[45, 45];
        for (var i = 0; i < 45; i++)
        {
            for (var j = 0; j < 45; j++)
            {
                var inWindow = j >= i - before && j <= i + after;
                var global = globals.Contains(i) || globals.Contains(j);
                allowed[i, j] = (inWindow || global) && (!causal || j <= i);
            }
        }

        var expected = Reference.MaskedAttention(q, k, v, allowed);
        Assert.True((sparse.to(ScalarType.Float64) - expected).abs().max().item<double>() <= 1e-5);
    }
}
