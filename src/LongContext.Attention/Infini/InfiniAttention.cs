using LongContext.Attention.Blockwise;
using static TorchSharp.torch;

namespace LongContext.Attention.Infini;

/// <summary>How the compressive memory takes in a segment's keys and values.</summary>
public enum InfiniMemoryUpdate
{
    /// <summary>M += σ(K)ᵀV.</summary>
    Linear,

    /// <summary>M += σ(K)ᵀ(V − σ(K)M / σ(K)z): only what the memory does not already return is added.</summary>
    Delta,
}

/// <summary>
/// Infini-attention (Munkhdalai et al. 2024) for one layer: the sequence is read in segments of N
/// tokens; within a segment, causal dot-product attention; across segments, a per-head compressive
/// memory M (d_k × d_v) and normaliser z (d_k) from which the segment's queries retrieve
/// σ(Q)M / σ(Q)z with σ = ELU + 1 (no positional rotation on this path). A per-head gate
/// sigmoid(β) mixes memory and local attention. State is O(d²) per head whatever the length.
/// </summary>
public sealed class InfiniAttention(int segmentLength, Tensor beta, InfiniMemoryUpdate update = InfiniMemoryUpdate.Delta) : IDisposable
{
    private Tensor? _memory;
    private Tensor? _normaliser;

    public int SegmentLength => segmentLength;

    /// <summary>The memory after the segments seen so far: (batch, heads, d_k, d_v); null before the first.</summary>
    public Tensor? Memory => _memory;

    public Tensor? Normaliser => _normaliser;

    /// <summary>
    /// Processes q, k, v (batch, heads, length, d) segment by segment, carrying the memory over;
    /// returns the outputs. In a model with rotary positions, q and k are the rotated ones (local
    /// attention) and <paramref name="memoryQueries"/> / <paramref name="memoryKeys"/> the same
    /// projections unrotated (the memory path carries no positions); without them q and k serve both.
    /// </summary>
    public Tensor Forward(Tensor q, Tensor k, Tensor v, Tensor? memoryQueries = null, Tensor? memoryKeys = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(segmentLength, 1);
        using var scope = NewDisposeScope();
        var (mq, mk) = (memoryQueries ?? q, memoryKeys ?? k);
        (k, v, mk) = (ToQueryHeads(k, q), ToQueryHeads(v, q), ToQueryHeads(mk, q));
        var outputs = new List<Tensor>();
        for (var start = 0L; start < q.shape[2]; start += segmentLength)
        {
            var size = Math.Min(segmentLength, q.shape[2] - start);
            var (qs, ks, vs) = (q.narrow(2, start, size).to(ScalarType.Float32), k.narrow(2, start, size).to(ScalarType.Float32), v.narrow(2, start, size).to(ScalarType.Float32));
            var local = BlockAttention.Attend(qs, ks, vs, new BlockMask(Causal: true)).Output;
            outputs.Add(Mix(Read(mq.narrow(2, start, size)), local).to(q.dtype));
            Store(mk.narrow(2, start, size), vs);
        }

        return cat([.. outputs], dim: 2).MoveToOuterDisposeScope();
    }

    /// <summary>What the memory returns for queries (batch, heads, length, d_k): σ(Q)M / σ(Q)z, zeros before anything was stored.</summary>
    public Tensor Read(Tensor queries)
    {
        if (_memory is null)
        {
            return zeros([.. queries.shape[..3], queries.shape[3]], dtype: ScalarType.Float32, device: queries.device);
        }

        using var scope = NewDisposeScope();
        return Retrieve(queries.to(ScalarType.Float32), _memory, _normaliser!).MoveToOuterDisposeScope();
    }

    /// <summary>sigmoid(β)·memory + (1 − sigmoid(β))·local, per head.</summary>
    public Tensor Mix(Tensor memory, Tensor local)
    {
        using var scope = NewDisposeScope();
        var gate = beta.to(ScalarType.Float32).to(local.device).sigmoid().reshape(1, local.shape[1], 1, 1);
        return (gate * memory + (1 - gate) * local.to(ScalarType.Float32)).MoveToOuterDisposeScope();
    }

    /// <summary>Keys or values with fewer (grouped) heads repeated to the query heads.</summary>
    public static Tensor ToQueryHeads(Tensor x, Tensor q) =>
        x.shape[1] == q.shape[1] ? x.alias() : x.repeat_interleave(q.shape[1] / x.shape[1], dim: 1);

    /// <summary>Writes a segment's keys and values into the memory with the configured rule.</summary>
    public void Store(Tensor keys, Tensor values)
    {
        using var scope = NewDisposeScope();
        var sk = Sigma(keys.to(ScalarType.Float32));
        var vf = values.to(ScalarType.Float32);
        var memory = _memory ?? zeros(keys.shape[0], keys.shape[1], keys.shape[3], values.shape[3], device: keys.device);
        var normaliser = _normaliser ?? zeros(keys.shape[0], keys.shape[1], keys.shape[3], device: keys.device);
        var added = update == InfiniMemoryUpdate.Delta ? vf - Divide(matmul(sk, memory), matmul(sk, normaliser.unsqueeze(-1))) : vf;
        var next = memory + matmul(sk.transpose(-2, -1), added);
        var nextNormaliser = normaliser + sk.sum(2);
        _memory?.Dispose();
        _normaliser?.Dispose();
        // The state outlives every call: it leaves all dispose scopes and is freed by Dispose.
        _memory = next.DetachFromDisposeScope();
        _normaliser = nextNormaliser.DetachFromDisposeScope();
    }

    public void Dispose()
    {
        _memory?.Dispose();
        _normaliser?.Dispose();
    }

    private static Tensor Retrieve(Tensor q, Tensor memory, Tensor normaliser)
    {
        var sq = Sigma(q);
        return Divide(matmul(sq, memory), matmul(sq, normaliser.unsqueeze(-1)));
    }

    /// <summary>σ(x) = ELU(x) + 1: positive, so the normaliser never cancels.</summary>
    private static Tensor Sigma(Tensor x) => nn.functional.elu(x, alpha: 1.0) + 1;

    /// <summary>Division that reads an empty memory (normaliser 0) as retrieving nothing.</summary>
    private static Tensor Divide(Tensor numerator, Tensor denominator) =>
        where(denominator > 0, numerator / where(denominator > 0, denominator, ones_like(denominator)), zeros_like(numerator));
}
