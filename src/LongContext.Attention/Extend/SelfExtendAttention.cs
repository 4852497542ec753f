using static TorchSharp.torch;

namespace LongContext.Attention.Extend;

/// <summary>
/// Self-Extend (Jin et al. 2024, "LLM Maybe LongLM"): causal attention in which a query sees its
/// nearest <c>window</c> keys at their true relative positions and every farther key at grouped
/// positions (positions floor-divided by the group size G, the query's shifted by W − W/G so the
/// two regions meet), so no relative distance exceeds about W + (n − W)/G — a model keeps reading
/// positions it was trained on at G times its training length, without further training.
/// Positions enter through rotary embeddings, so the caller passes q and k rotated twice: at the
/// true positions and at the grouped ones (<see cref="GroupedQueryPositions"/>, <see cref="GroupedKeyPositions"/>).
/// Queries run in blocks against the keys they may see; nothing n×n is held at once.
/// </summary>
public static class SelfExtendAttention
{
    /// <summary>
    /// Attention of queries at positions <paramref name="queryOffset"/> + i over keys at 0..lk−1
    /// (batch, heads, length, d; key/value heads may divide query heads). The output has q's dtype.
    /// </summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor groupedQ, Tensor groupedK, Tensor v, int window, long queryOffset = 0, int blockSize = 256)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        using var scope = NewDisposeScope();
        var (queryHeads, kvHeads) = (q.shape[1], k.shape[1]);
        if (queryHeads % kvHeads != 0)
        {
            throw new ArgumentException($"query heads ({queryHeads}) must be a multiple of key/value heads ({kvHeads}).", nameof(k));
        }

        var group = queryHeads / kvHeads;
        Tensor Expand(Tensor x) => group > 1 ? x.to(ScalarType.Float32).repeat_interleave(group, dim: 1) : x.to(ScalarType.Float32);
        var (kf, gkf, vf) = (Expand(k), Expand(groupedK), Expand(v));
        var (lq, lk) = (q.shape[2], k.shape[2]);
        var scale = 1.0 / Math.Sqrt(q.shape[3]);
        var outputs = new List<Tensor>();
        for (var start = 0L; start < lq; start += blockSize)
        {
            // Each block's scores are freed before the next: peak memory is one block's, not the sequence's.
            using var blockScope = NewDisposeScope();
            var size = Math.Min(blockSize, lq - start);
            var visibleKeys = Math.Min(lk, queryOffset + start + size); // causal: nothing past the block's last query
            var queryPositions = arange(queryOffset + start, queryOffset + start + size, device: q.device).unsqueeze(1);
            var keyPositions = arange(0, visibleKeys, device: q.device).unsqueeze(0);
            var distance = queryPositions - keyPositions;
            var near = matmul(q.narrow(2, start, size).to(ScalarType.Float32), kf.narrow(2, 0, visibleKeys).transpose(-2, -1));
            var far = matmul(groupedQ.narrow(2, start, size).to(ScalarType.Float32), gkf.narrow(2, 0, visibleKeys).transpose(-2, -1));
            var scores = where(distance < window, near, far).mul_(scale).masked_fill(distance < 0, double.NegativeInfinity);
            outputs.Add(matmul(scores.softmax(-1), vf.narrow(2, 0, visibleKeys)).to(q.dtype).MoveToOuterDisposeScope());
        }

        return cat([.. outputs], 2).MoveToOuterDisposeScope();
    }

    /// <summary>A query's grouped position: p / G + (W − W / G), so that at distance W both schemes agree.</summary>
    public static Tensor GroupedQueryPositions(Tensor positions, int group, int window) =>
        positions.div(group, rounding_mode: RoundingMode.floor) + (window - window / group);

    /// <summary>A key's grouped position: p / G.</summary>
    public static Tensor GroupedKeyPositions(Tensor positions, int group) =>
        positions.div(group, rounding_mode: RoundingMode.floor);
}
