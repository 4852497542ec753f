using static TorchSharp.torch;

namespace LongContext.Attention.Sparse;

/// <summary>
/// Local + global sparse attention (Longformer, BigBird): every query sees a sliding window of
/// keys around it (the last <c>window</c> keys when causal, <c>window</c> keys centred on it when
/// not) plus the global tokens; global tokens see, and are seen by, every position. Queries are
/// processed in blocks against only the keys their block can see, so time and memory are
/// O(n·(w + g)) — the n×n score matrix is never built.
/// </summary>
public static class SparseAttention
{
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, int window, IReadOnlyCollection<long> globalTokens, bool causal, int blockSize = 64)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        using var scope = NewDisposeScope();
        var (queryHeads, kvHeads) = (q.shape[1], k.shape[1]);
        var kf = k.to(ScalarType.Float32);
        var vf = v.to(ScalarType.Float32);
        if (queryHeads != kvHeads)
        {
            kf = kf.repeat_interleave(queryHeads / kvHeads, dim: 1);
            vf = vf.repeat_interleave(queryHeads / kvHeads, dim: 1);
        }

        var n = q.shape[2];
        var scale = 1.0 / Math.Sqrt(q.shape[3]);
        var globals = globalTokens.Where(g => g >= 0 && g < n).Distinct().Order().ToArray();
        var globalIndex = tensor(globals, device: q.device);
        var globalKeys = kf.index_select(2, globalIndex);
        var globalValues = vf.index_select(2, globalIndex);
        var (before, after) = causal ? (window - 1, 0) : ((window - 1) / 2, window / 2);

        var outputs = new List<Tensor>();
        for (var start = 0L; start < n; start += blockSize)
        {
            var size = Math.Min(blockSize, n - start);
            var qs = q.narrow(2, start, size).to(ScalarType.Float32);
            var from = Math.Max(0, start - before);
            var to = Math.Min(n, start + size + after);
            var localKeys = kf.narrow(2, from, to - from);
            var localValues = vf.narrow(2, from, to - from);

            var queryPositions = arange(start, start + size, device: q.device).unsqueeze(1);
            var localPositions = arange(from, to, device: q.device).unsqueeze(0);
            var localVisible = (localPositions >= queryPositions - before).logical_and(localPositions <= queryPositions + after);

            // Global keys count once: those already inside a query's window are seen through the window.
            var globalPositions = globalIndex.unsqueeze(0);
            var globalVisible = (causal ? globalPositions <= queryPositions : ones_like(globalPositions, dtype: ScalarType.Bool))
                .logical_and((globalPositions >= queryPositions - before).logical_and(globalPositions <= queryPositions + after).logical_not());

            var keys = cat([localKeys, globalKeys], dim: 2);
            var values = cat([localValues, globalValues], dim: 2);
            var visible = cat([localVisible, globalVisible], dim: 1);
            var scores = matmul(qs, keys.transpose(-2, -1)).mul_(scale).masked_fill(visible.logical_not(), double.NegativeInfinity);
            outputs.Add(matmul(scores.softmax(-1), values));
        }

        var output = cat([.. outputs], dim: 2);
        if (globals.Length > 0)
        {
            // Global query rows attend to every key (causally when causal): O(n·g).
            var globalQueries = q.to(ScalarType.Float32).index_select(2, globalIndex);
            var scores = matmul(globalQueries, kf.transpose(-2, -1)).mul_(scale);
            if (causal)
            {
                scores = scores.masked_fill(arange(n, device: q.device).unsqueeze(0) > globalIndex.unsqueeze(1), double.NegativeInfinity);
            }

            output = output.index_copy(2, globalIndex, matmul(scores.softmax(-1), vf));
        }

        return output.to(q.dtype).MoveToOuterDisposeScope();
    }
}
