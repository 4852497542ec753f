using LongContext.Attention.Blockwise;
using static TorchSharp.torch;

namespace LongContext.Attention.Star;

/// <summary>
/// Star attention (Acharya et al. 2024) for one attention layer, in its two phases.
/// Phase 1 encodes a long context in blocks that can live on different hosts: every block
/// after the first attends to the anchor block (the context's first tokens, at their original
/// positions) and, causally, to itself; the anchor's keys and values are then discarded, so each
/// host keeps only its own block's cache. Approximate: a token no longer sees the blocks between
/// the anchor and its own. Phase 2 is exact: the query attends to every block's cache (no mask —
/// all of it precedes the query) and causally to its own tokens, and the partial results are
/// merged by log-sum-exp, which is attention over the concatenated caches.
/// </summary>
public static class StarAttention
{
    /// <summary>Phase 1: outputs of the context tokens, (batch, heads, context length, d).</summary>
    public static Tensor EncodeContext(Tensor q, Tensor k, Tensor v, long blockSize, long? anchorSize = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1L);
        var length = q.shape[2];
        var anchor = Math.Min(anchorSize ?? blockSize, length);
        using var scope = NewDisposeScope();
        var outputs = new List<Tensor>();
        for (var start = 0L; start < length; start += blockSize)
        {
            var size = Math.Min(blockSize, length - start);
            var query = q.narrow(2, start, size);
            var own = BlockAttention.Attend(query, k.narrow(2, start, size), v.narrow(2, start, size), new BlockMask(Causal: true, QueryOffset: start, KeyOffset: start));
            if (start == 0)
            {
                outputs.Add(own.Output);
                continue;
            }

            // The anchor precedes the block wholly: no mask on it. (For the block that overlaps the anchor, only the part before the block counts.)
            var anchorKeys = Math.Min(anchor, start);
            var fromAnchor = BlockAttention.Attend(query, k.narrow(2, 0, anchorKeys), v.narrow(2, 0, anchorKeys));
            outputs.Add(BlockAttention.Merge(fromAnchor.Output, fromAnchor.LogSumExp, own.Output, own.LogSumExp).Output);
        }

        return cat([.. outputs], dim: 2).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Phase 2: the query tokens (positions after the whole context) over every context block's cache
    /// and, causally, their own keys. <paramref name="contextBlocks"/> are the (keys, values) each host kept.
    /// </summary>
    public static (Tensor Output, Tensor LogSumExp) AttendQuery(Tensor q, IReadOnlyList<(Tensor Keys, Tensor Values)> contextBlocks, Tensor queryKeys, Tensor queryValues)
    {
        using var scope = NewDisposeScope();
        var contextLength = contextBlocks.Sum(b => b.Keys.shape[2]);
        var result = BlockAttention.Attend(q, queryKeys, queryValues, new BlockMask(Causal: true, QueryOffset: contextLength, KeyOffset: contextLength));
        foreach (var (keys, values) in contextBlocks)
        {
            // Each host computes its partial result where its cache lives; only (output, LSE) travel.
            var part = BlockAttention.Attend(q.to(keys.device), keys, values);
            result = BlockAttention.Merge(result.Output, result.LogSumExp, part.Output.to(q.device), part.LogSumExp.to(q.device));
        }

        return (result.Output.MoveToOuterDisposeScope(), result.LogSumExp.MoveToOuterDisposeScope());
    }
}
