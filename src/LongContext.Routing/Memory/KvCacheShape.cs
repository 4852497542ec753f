namespace LongContext.Routing.Memory;

/// <summary>The parts of a decoder's shape that size its KV cache.</summary>
public sealed record KvCacheShape
{
    public int Layers { get; init; }

    /// <summary>Key/value heads (fewer than query heads under grouped-query attention).</summary>
    public int KvHeads { get; init; }

    public int HeadDim { get; init; }

    /// <summary>Bytes per cached value: 2 for FP16/BF16, 1 for FP8/INT8.</summary>
    public int BytesPerValue { get; init; } = 2;

    /// <summary>KV cache = 2 (K and V) · layers · KV heads · head dim · tokens · bytes per value.</summary>
    public long BytesFor(long tokens) => 2L * Layers * KvHeads * HeadDim * tokens * BytesPerValue;
}
