namespace LongContext.Routing.Memory;

/// <summary>How an attention method holds its KV cache.</summary>
/// <param name="ShardedOverDevices">Ring and star split the cache over the devices; full attention keeps it on one.</param>
/// <param name="TokenLimit">Infini-attention keeps one segment (plus a fixed memory) whatever the length; sliding windows keep w tokens.</param>
/// <param name="CompressionRatio">KV-cache compression keeps 1/ratio of the tokens (StreamingLLM, H2O, SnapKV: 2–16×).</param>
public readonly record struct KvLayout(bool ShardedOverDevices = false, long? TokenLimit = null, double CompressionRatio = 1);

/// <summary>
/// Bytes of KV cache each device must hold: 2·L·H_kv·d_head·n·bytes for the tokens kept, divided
/// over the devices when the method shards the sequence. Routing uses it for feasibility; the
/// backend uses it to refuse a request that would not fit.
/// </summary>
public static class KvMemoryPlanner
{
    public static long TokensKept(long tokens, KvLayout layout)
    {
        var kept = (long)Math.Ceiling(tokens / Math.Max(layout.CompressionRatio, 1));
        return Math.Min(kept, layout.TokenLimit ?? long.MaxValue);
    }

    public static long BytesPerDevice(KvCacheShape shape, long tokens, int devices, KvLayout layout)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(devices, 1);
        var total = shape.BytesFor(TokensKept(tokens, layout));
        return layout.ShardedOverDevices ? (total + devices - 1) / devices : total;
    }
}
