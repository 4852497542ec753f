using static TorchSharp.torch;

namespace LongContext.Attention.Blockwise;

/// <summary>Where a block of queries and a block of keys sit in the whole sequence, and whether attention is causal.</summary>
/// <param name="Causal">A query at position p sees keys at positions ≤ p only.</param>
/// <param name="QueryOffset">Position of the block's first query in the sequence.</param>
/// <param name="KeyOffset">Position of the block's first key in the sequence.</param>
public readonly record struct BlockMask(bool Causal = false, long QueryOffset = 0, long KeyOffset = 0)
{
    public static BlockMask None => default;
}

/// <summary>
/// The primitive every method here is built from: attention of a query block over a key/value
/// block that also returns the log-sum-exp of each query row's scores, so partial results over
/// different key blocks merge exactly (ring, star and blockwise attention are orchestrations of it).
/// Shapes: q (batch, query heads, Lq, d), k and v (batch, KV heads, Lk, d) with query heads a
/// multiple of KV heads (grouped-query attention). Scores and sums are accumulated in float32
/// whatever the inputs' dtype; the output comes back in q's dtype, the LSE in float32.
/// </summary>
public static class BlockAttention
{
    public static (Tensor Output, Tensor LogSumExp) Attend(Tensor q, Tensor k, Tensor v, BlockMask mask = default, double? scale = null)
    {
        var (queryHeads, kvHeads) = (q.shape[1], k.shape[1]);
        if (queryHeads % kvHeads != 0 || v.shape[1] != kvHeads)
        {
            throw new ArgumentException($"query heads ({queryHeads}) must be a multiple of key/value heads ({kvHeads}, {v.shape[1]}).", nameof(k));
        }

        using var scope = NewDisposeScope();
        var group = queryHeads / kvHeads;
        var qf = q.to(ScalarType.Float32);
        var kf = k.to(ScalarType.Float32);
        var vf = v.to(ScalarType.Float32);
        if (group > 1)
        {
            // Each KV head serves `group` consecutive query heads.
            kf = kf.repeat_interleave(group, dim: 1);
            vf = vf.repeat_interleave(group, dim: 1);
        }

        var factor = scale ?? 1.0 / Math.Sqrt(q.shape[^1]);
        var scores = matmul(qf, kf.transpose(-2, -1)).mul_(factor);
        if (mask.Causal)
        {
            var (lq, lk) = (q.shape[2], k.shape[2]);
            var queryPositions = arange(mask.QueryOffset, mask.QueryOffset + lq, device: q.device).unsqueeze(1);
            var keyPositions = arange(mask.KeyOffset, mask.KeyOffset + lk, device: q.device).unsqueeze(0);
            scores = scores.masked_fill(keyPositions > queryPositions, double.NegativeInfinity);
        }

        var lse = scores.logsumexp(-1);

        // A row that sees no key (all masked) has LSE −inf: subtracting it would give NaN, so those rows
        // subtract 0 instead, every weight becomes exp(−inf) = 0 and the row's output is 0.
        var safe = where(lse.isneginf(), zeros_like(lse), lse);
        var weights = (scores - safe.unsqueeze(-1)).exp_();
        var output = matmul(weights, vf).to(q.dtype);
        return (output.MoveToOuterDisposeScope(), lse.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Combines two results over disjoint key sets into the result over their union, in the stable
    /// form: both sides are rescaled by exp(lse − max) before adding, and rows where both LSEs are
    /// −inf (no key seen on either side) stay output 0, LSE −inf.
    /// </summary>
    public static (Tensor Output, Tensor LogSumExp) Merge(Tensor outputA, Tensor lseA, Tensor outputB, Tensor lseB)
    {
        using var scope = NewDisposeScope();
        var max = maximum(lseA, lseB);
        var safeMax = where(max.isneginf(), zeros_like(max), max);
        var weightA = (lseA - safeMax).exp();
        var weightB = (lseB - safeMax).exp();
        var total = weightA + weightB;
        var lse = safeMax + total.log();
        var denominator = where(total > 0, total, ones_like(total)).unsqueeze(-1);
        var output = (outputA.to(ScalarType.Float32) * weightA.unsqueeze(-1) + outputB.to(ScalarType.Float32) * weightB.unsqueeze(-1)) / denominator;
        return (output.to(outputA.dtype).MoveToOuterDisposeScope(), lse.MoveToOuterDisposeScope());
    }
}
