using LongContext.Attention.Blockwise;
using LongContext.Attention.Ring;
using TorchSharp;

namespace LongContext.Attention.Tests;

public sealed class LeakTests
{
    [Fact]
    public void ThousandCalls_LeaveNoTensorAlive()
    {
        var (q, k, v) = Reference.Inputs(batch: 1, queryHeads: 2, kvHeads: 1, lq: 16, lk: 16, d: 8);
        DisposeScopeManager.Statistics.Reset();

        for (var i = 0; i < 1_000; i++)
        {
            var (output, lse) = BlockAttention.Attend(q, k, v, new BlockMask(Causal: true));
            var (merged, mergedLse) = BlockAttention.Merge(output, lse, output, lse);
            using var ring = RingAttention.Attend(q, k, v, ranks: 3, causal: true);
            output.Dispose();
            lse.Dispose();
            merged.Dispose();
            mergedLse.Dispose();
        }

        Assert.Equal(0, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
