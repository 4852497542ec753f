using LongContext.Attention.Blockwise;
using static TorchSharp.torch;

namespace LongContext.Attention.KvCompression;

/// <summary>
/// A KV-cache compression policy for decoding: from a cache of n tokens it chooses, per batch row
/// and KV head, which token positions to keep (n / ratio of them). Decoding then attends over the
/// kept keys only (<see cref="KvSelection.Attend"/>).
/// </summary>
public interface IKvCompressor
{
    string Name { get; }

    /// <summary>Positions kept, (batch, KV heads, kept), ascending; <paramref name="query"/> is the decoding query (batch, query heads, 1, d) for query-aware methods.</summary>
    Tensor Choose(Tensor keys, Tensor values, Tensor? query, int budget);
}

public static class KvSelection
{
    /// <summary>The number of tokens a cache of n keeps at a compression ratio.</summary>
    public static int Budget(long tokens, double ratio) => (int)Math.Max(1, Math.Ceiling(tokens / Math.Max(ratio, 1)));

    /// <summary>Attention of the query over the kept keys and values only.</summary>
    public static Tensor Attend(Tensor query, Tensor keys, Tensor values, Tensor kept)
    {
        using var scope = NewDisposeScope();
        var index = kept.unsqueeze(-1).expand(-1, -1, -1, keys.shape[3]);
        var (k, v) = (keys.gather(2, index), values.gather(2, index));
        return BlockAttention.Attend(query, k, v).Output.MoveToOuterDisposeScope();
    }

    internal static Tensor TopPositions(Tensor scores, int count)
    {
        var k = (int)Math.Min(count, scores.shape[^1]);
        return scores.topk(k, dim: -1).indexes.sort(dim: -1).Values;
    }

    /// <summary>Per KV head, the average over its query heads (grouped-query attention).</summary>
    internal static Tensor PerKvHead(Tensor perQueryHead, long kvHeads)
    {
        var (b, hq) = (perQueryHead.shape[0], perQueryHead.shape[1]);
        return perQueryHead.reshape([b, kvHeads, hq / kvHeads, .. perQueryHead.shape[2..]]).mean([2]);
    }
}

/// <summary>StreamingLLM (Xiao et al. 2023): the first sink tokens plus the most recent window.</summary>
public sealed class StreamingLlm(int sinks = 4) : IKvCompressor
{
    public string Name => "streaming_llm";

    public Tensor Choose(Tensor keys, Tensor values, Tensor? query, int budget)
    {
        var n = keys.shape[2];
        var sinkCount = Math.Min(sinks, Math.Min(budget, n));
        var recent = Math.Min(budget - sinkCount, n - sinkCount);
        var positions = cat([arange(0, sinkCount, dtype: ScalarType.Int64), arange(n - recent, n, dtype: ScalarType.Int64)], 0);
        return positions.to(keys.device).expand(keys.shape[0], keys.shape[1], -1).contiguous();
    }
}

/// <summary>
/// H2O (Zhang et al. 2023): heavy hitters — the keys with the most accumulated attention from the
/// queries seen so far — plus the most recent tokens (half the budget each by default).
/// </summary>
public sealed class HeavyHitterOracle(Tensor accumulatedAttention, double recentShare = 0.5) : IKvCompressor
{
    public string Name => "h2o";

    /// <summary>Accumulated attention per key from a prefill: column sums of the causal attention probabilities, per KV head.</summary>
    public static Tensor Accumulate(Tensor q, Tensor k)
    {
        using var scope = NewDisposeScope();
        var probabilities = CausalProbabilities(q, k);
        return KvSelection.PerKvHead(probabilities.sum(2), k.shape[1]).MoveToOuterDisposeScope();
    }

    public Tensor Choose(Tensor keys, Tensor values, Tensor? query, int budget)
    {
        using var scope = NewDisposeScope();
        var n = keys.shape[2];
        var recent = (int)Math.Min(n, Math.Round(budget * recentShare));
        var heavy = Math.Min(budget - recent, (int)(n - recent));
        var older = accumulatedAttention.narrow(2, 0, n - recent);
        var hitters = KvSelection.TopPositions(older, heavy);
        var window = arange(n - recent, n, dtype: ScalarType.Int64, device: keys.device).expand(keys.shape[0], keys.shape[1], -1);
        return cat([hitters, window], 2).MoveToOuterDisposeScope();
    }

    internal static Tensor CausalProbabilities(Tensor q, Tensor k)
    {
        var group = q.shape[1] / k.shape[1];
        var kf = k.to(ScalarType.Float32).repeat_interleave(group, dim: 1);
        var scores = matmul(q.to(ScalarType.Float32), kf.transpose(-2, -1)) / Math.Sqrt(q.shape[3]);
        var (lq, lk) = (q.shape[2], k.shape[2]);
        var future = arange(lk).unsqueeze(0) > arange(lk - lq, lk).unsqueeze(1);
        return scores.masked_fill(future, double.NegativeInfinity).softmax(-1);
    }
}

/// <summary>
/// SnapKV (Li et al. 2024): the last prompt tokens (the observation window) vote for the earlier
/// keys they attend to; votes are pooled over neighbouring positions so whole phrases survive, the
/// top-voted keys plus the window are kept.
/// </summary>
public sealed class SnapKv(Tensor promptQueries, int observationWindow = 32, int poolKernel = 7) : IKvCompressor
{
    public string Name => "snapkv";

    public Tensor Choose(Tensor keys, Tensor values, Tensor? query, int budget)
    {
        using var scope = NewDisposeScope();
        var n = keys.shape[2];
        var window = (int)Math.Min(observationWindow, Math.Min(budget, n));
        var observers = promptQueries.narrow(2, promptQueries.shape[2] - window, window);
        var probabilities = HeavyHitterOracle.CausalProbabilities(observers, keys);
        var votes = KvSelection.PerKvHead(probabilities.sum(2), keys.shape[1]).narrow(2, 0, n - window);
        var (b, h) = (votes.shape[0], votes.shape[1]);
        var pooled = nn.functional.max_pool1d(votes.reshape(b * h, 1, n - window), poolKernel, stride: 1, padding: poolKernel / 2).reshape(b, h, n - window);
        var chosen = KvSelection.TopPositions(pooled, budget - window);
        var recent = arange(n - window, n, dtype: ScalarType.Int64, device: keys.device).expand(b, h, -1);
        return cat([chosen, recent], 2).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Quest (Tang et al. 2024): keys in pages of 16; each page keeps per-channel minimum and maximum;
/// a query scores a page by Σ_c max(q_c·min_c, q_c·max_c) — an upper bound of its best dot product —
/// and the top pages are attended. Query-aware: the selection changes with every query.
/// </summary>
public sealed class Quest(int pageSize = 16) : IKvCompressor
{
    public string Name => "quest";

    public Tensor Choose(Tensor keys, Tensor values, Tensor? query, int budget)
    {
        ArgumentNullException.ThrowIfNull(query);
        using var scope = NewDisposeScope();
        var (b, h, n, d) = (keys.shape[0], keys.shape[1], keys.shape[2], keys.shape[3]);
        var pages = (n + pageSize - 1) / pageSize;
        var padded = nn.functional.pad(keys.to(ScalarType.Float32), [0, 0, 0, pages * pageSize - n], value: double.NaN).reshape(b, h, pages, pageSize, d);
        var low = padded.nan_to_num(nan: double.PositiveInfinity).amin([3]);
        var high = padded.nan_to_num(nan: double.NegativeInfinity).amax([3]);
        var q = KvSelection.PerKvHead(query.to(ScalarType.Float32).squeeze(2), h).unsqueeze(2);
        var bound = maximum(q * low, q * high).sum(-1);
        var pageCount = (int)Math.Max(1, Math.Min(pages, budget / pageSize));
        var top = KvSelection.TopPositions(bound, pageCount);
        var positions = (top.unsqueeze(-1) * pageSize + arange(pageSize, dtype: ScalarType.Int64, device: keys.device)).reshape(b, h, -1);
        // The last page may be short: positions past the end fold back onto the last token.
        return positions.clamp_max(n - 1).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// RocketKV-style two stages (Behnam et al. 2025): a coarse, permanent eviction (SnapKV to a
/// larger budget) at the end of the prompt, then per query a Quest-like top-k sparse selection over
/// what was kept.
/// </summary>
public sealed class TwoStage(SnapKv coarse, Quest fine, double coarseShare = 2) : IKvCompressor
{
    public string Name => "two_stage";

    public Tensor Choose(Tensor keys, Tensor values, Tensor? query, int budget)
    {
        using var scope = NewDisposeScope();
        var permanent = coarse.Choose(keys, values, null, (int)Math.Min(keys.shape[2], budget * coarseShare));
        var index = permanent.unsqueeze(-1).expand(-1, -1, -1, keys.shape[3]);
        var kept = keys.gather(2, index);
        var chosen = fine.Choose(kept, values.gather(2, index), query, budget);
        return permanent.gather(2, chosen).sort(dim: -1).Values.MoveToOuterDisposeScope();
    }
}
