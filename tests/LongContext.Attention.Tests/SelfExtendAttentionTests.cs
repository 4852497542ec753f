using LongContext.Attention.Blockwise;
using LongContext.Attention.Extend;
using static TorchSharp.torch;

namespace LongContext.Attention.Tests;

public sealed class SelfExtendAttentionTests
{
    /// <summary>Float64 loops: scores from (q, k) within the window, from the grouped pair beyond it, causal.</summary>
    private static Tensor Expected(Tensor q, Tensor k, Tensor gq, Tensor gk, Tensor v, int window, long offset)
    {
        var (b, hq, lq, d) = ((int)q.shape[0], (int)q.shape[1], (int)q.shape[2], (int)q.shape[3]);
        var (hkv, lk) = ((int)k.shape[1], (int)k.shape[2]);
        double[] A(Tensor t) => t.to(ScalarType.Float64).data<double>().ToArray();
        var (qa, ka, gqa, gka, va) = (A(q), A(k), A(gq), A(gk), A(v));
        var output = new double[b * hq * lq * d];
        for (var n = 0; n < b; n++)
        {
            for (var h = 0; h < hq; h++)
            {
                var kvh = h / (hq / hkv);
                for (var i = 0; i < lq; i++)
                {
                    var scores = new double[lk];
                    for (var j = 0; j < lk; j++)
                    {
                        var distance = offset + i - j;
                        var (qs, ks) = distance < window ? (qa, ka) : (gqa, gka);
                        double s = 0;
                        for (var x = 0; x < d; x++)
                        {
                            s += qs[((n * hq + h) * lq + i) * d + x] * ks[((n * hkv + kvh) * lk + j) * d + x];
                        }

                        scores[j] = distance < 0 ? double.NegativeInfinity : s / Math.Sqrt(d);
                    }

                    var max = scores.Max();
                    var weights = scores.Select(s => Math.Exp(s - max)).ToArray();
                    var sum = weights.Sum();
                    for (var x = 0; x < d; x++)
                    {
                        double acc = 0;
                        for (var j = 0; j < lk; j++)
                        {
                            acc += weights[j] / sum * va[((n * hkv + kvh) * lk + j) * d + x];
                        }

                        output[((n * hq + h) * lq + i) * d + x] = acc;
                    }
                }
            }
        }

        return tensor(output, [b, hq, lq, d]);
    }

    [Theory]
    [InlineData(29, 0, 5, 8)]
    [InlineData(7, 22, 5, 3)]
    [InlineData(1, 28, 4, 256)]
    public void SelfExtend_MatchesTheFloat64Definition(int queries, long offset, int window, int block)
    {
        var (q, k, v) = Reference.Inputs(batch: 2, queryHeads: 4, kvHeads: 2, lq: queries, lk: 29, d: 8);
        var (gq, gk, _) = Reference.Inputs(batch: 2, queryHeads: 4, kvHeads: 2, lq: queries, lk: 29, d: 8);

        using var actual = SelfExtendAttention.Attend(q, k, gq, gk, v, window, offset, block);

        Assert.True((actual.to(ScalarType.Float64) - Expected(q, k, gq, gk, v, window, offset)).abs().max().item<double>() <= 1e-5);
    }

    [Fact]
    public void WindowCoveringTheSequence_IsPlainCausalAttention()
    {
        var (q, k, v) = Reference.Inputs(batch: 1, queryHeads: 4, kvHeads: 1, lq: 33, lk: 33, d: 8);
        var (gq, gk, _) = Reference.Inputs(batch: 1, queryHeads: 4, kvHeads: 1, lq: 33, lk: 33, d: 8);

        using var actual = SelfExtendAttention.Attend(q, k, gq, gk, v, window: 33);
        var (expected, _) = Reference.Attention(q, k, v, new BlockMask(Causal: true));

        Assert.True((actual.to(ScalarType.Float64) - expected).abs().max().item<double>() <= 1e-5);
    }

    [Fact]
    public void GroupedPositions_MeetTheTruePositionsAtTheWindow_AndStayShort()
    {
        const int group = 8, window = 64;
        var positions = arange(0, 4096, dtype: ScalarType.Int64);
        var queries = SelfExtendAttention.GroupedQueryPositions(positions, group, window);
        var keys = SelfExtendAttention.GroupedKeyPositions(positions, group);

        // Query 4095 against the key at distance exactly W: the grouped distance is W (up to flooring).
        var atWindow = queries[4095].item<long>() - keys[4095 - window].item<long>();
        Assert.InRange(atWindow, window - 1, window + 1);
        // The farthest pair (query 4095, key 0): about W + (4095 − W) / G, far below 4095.
        Assert.Equal(window - window / group + 4095 / group, queries[4095].item<long>() - keys[0].item<long>());
    }
}
