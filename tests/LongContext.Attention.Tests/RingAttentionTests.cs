using LongContext.Attention.Ring;
using static TorchSharp.torch;

namespace LongContext.Attention.Tests;

public sealed class RingAttentionTests
{
    public static TheoryData<int, bool, RingSharding> Cases()
    {
        var data = new TheoryData<int, bool, RingSharding>();
        foreach (var ranks in new[] { 1, 2, 3, 4, 8 })
        {
            foreach (var causal in new[] { false, true })
            {
                foreach (var sharding in Enum.GetValues<RingSharding>())
                {
                    data.Add(ranks, causal, sharding);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Ring_EqualsFullAttention_WithinOneMillionth(int ranks, bool causal, RingSharding sharding)
    {
        // 37 tokens: divides evenly by none of the rank counts (nor by 2P for zigzag).
        var (q, k, v) = Reference.Inputs(batch: 2, queryHeads: 4, kvHeads: 2, lq: 37, lk: 37, d: 8);

        var ring = RingAttention.Attend(q, k, v, ranks, causal, sharding);
        var (expected, _) = Reference.Attention(q, k, v, new Blockwise.BlockMask(causal));

        Assert.True((ring.to(ScalarType.Float64) - expected).abs().max().item<double>() <= 1e-5);
    }

    [Fact]
    public void Zigzag_GivesEveryRankTheSameCausalWork()
    {
        const int ranks = 4;
        var pieces = RingAttention.Pieces(64, 2 * ranks);

        // Causal work of a piece ~ its end position (how many keys its queries can see).
        var work = Enumerable.Range(0, ranks).Select(r => pieces[r].End + pieces[2 * ranks - 1 - r].End).ToList();
        var contiguous = RingAttention.Pieces(64, ranks).Select(p => p.End).ToList();

        Assert.Single(work.Distinct());
        Assert.Equal(4, contiguous.Distinct().Count());
    }

    [Theory]
    [InlineData(37, 4, RingSharding.Zigzag)]
    [InlineData(37, 3, RingSharding.Contiguous)]
    [InlineData(3, 4, RingSharding.Zigzag)]
    [InlineData(1, 8, RingSharding.Contiguous)]
    public void Layout_CoversEveryPositionOnce_AndLeavesNoRankEmpty(long length, int ranks, RingSharding sharding)
    {
        var layout = RingAttention.Layout(length, ranks, sharding);

        var positions = layout.SelectMany(p => p).SelectMany(p => Enumerable.Range((int)p.Start, (int)p.Length)).Order().ToList();
        Assert.Equal(Enumerable.Range(0, (int)length), positions);
        Assert.All(layout, pieces => Assert.NotEmpty(pieces));
        Assert.True(layout.Length <= ranks);
    }
}
