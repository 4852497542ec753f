using LongContext.Attention.Infini;
using static TorchSharp.torch;

namespace LongContext.Backend.Model;

/// <summary>
/// What decoding needs of the tokens seen so far, per layer: keys (rotated) and values, and for
/// infini-attention the compressive memory plus the current segment. Owns its tensors.
/// </summary>
public sealed class KvCache : IDisposable
{
    internal KvCache(int layers) => Layers = [.. Enumerable.Range(0, layers).Select(_ => new LayerCache())];

    internal LayerCache[] Layers { get; }

    /// <summary>The position the next token takes (tokens seen so far, whatever the cache kept).</summary>
    public long NextPosition { get; internal set; }

    /// <summary>The prompt's length: the compression budget is a share of it.</summary>
    internal long PromptTokens { get; set; }

    /// <summary>Bytes held by keys, values and infini memory.</summary>
    public long Bytes => Layers.Sum(l => l.Bytes);

    public void Dispose()
    {
        foreach (var layer in Layers)
        {
            layer.Dispose();
        }
    }
}

internal sealed class LayerCache : IDisposable
{
    private Tensor? _keys;
    private Tensor? _values;
    private Tensor? _promptQueries;
    private (Tensor Keys, Tensor Values)[]? _shards;

    /// <summary>(batch, KV heads, kept, d), rotary positions applied.</summary>
    public Tensor? Keys => _keys;

    public Tensor? Values => _values;

    /// <summary>The prompt's last queries (the observation window of SnapKV-style selection).</summary>
    public Tensor? PromptQueries => _promptQueries;

    /// <summary>Context-parallel prefill: the prompt's keys and values per shard, each on its shard's device (what decoding adds goes to <see cref="Keys"/>).</summary>
    public IReadOnlyList<(Tensor Keys, Tensor Values)>? Shards => _shards;

    /// <summary>Self-Extend: the keys rotated at their grouped positions, alongside <see cref="Keys"/>.</summary>
    public Tensor? GroupedKeys { get; private set; }

    public InfiniAttention? Infini { get; set; }

    /// <summary>Infini: where the current (not yet stored) segment starts.</summary>
    public long SegmentStart { get; set; }

    /// <summary>Infini: the current segment's keys without rotation (the memory path) and values, query heads.</summary>
    public Tensor? SegmentMemoryKeys { get; private set; }

    public Tensor? SegmentValues { get; private set; }

    public long Bytes =>
        new[] { _keys, _values, GroupedKeys, SegmentMemoryKeys, SegmentValues, Infini?.Memory, Infini?.Normaliser }
            .Concat((_shards ?? []).SelectMany(s => new[] { s.Keys, s.Values }))
            .Sum(t => t is null ? 0 : t.numel() * t.ElementSize);

    public void Replace(Tensor keys, Tensor values)
    {
        var (oldKeys, oldValues) = (_keys, _values);
        (_keys, _values) = (keys.DetachFromDisposeScope(), values.DetachFromDisposeScope());
        oldKeys?.Dispose();
        oldValues?.Dispose();
    }

    public void Append(Tensor keys, Tensor values)
    {
        if (_keys is null)
        {
            Replace(keys.clone(), values.clone());
            return;
        }

        Replace(cat([_keys, keys], 2), cat([_values!, values], 2));
    }

    public void AppendGroupedKeys(Tensor keys)
    {
        var old = GroupedKeys;
        GroupedKeys = (old is null ? keys.clone() : cat([old, keys], 2)).DetachFromDisposeScope();
        old?.Dispose();
    }

    public void SetShards((Tensor Keys, Tensor Values)[] shards)
    {
        DisposeShards();
        _shards = [.. shards.Select(s => (s.Keys.DetachFromDisposeScope(), s.Values.DetachFromDisposeScope()))];
    }

    public void KeepPromptQueries(Tensor queries)
    {
        _promptQueries?.Dispose();
        _promptQueries = queries.clone().DetachFromDisposeScope();
    }

    public void SetSegment(Tensor? memoryKeys, Tensor? values)
    {
        SegmentMemoryKeys?.Dispose();
        SegmentValues?.Dispose();
        SegmentMemoryKeys = memoryKeys?.DetachFromDisposeScope();
        SegmentValues = values?.DetachFromDisposeScope();
    }

    public void Dispose()
    {
        _keys?.Dispose();
        _values?.Dispose();
        _promptQueries?.Dispose();
        GroupedKeys?.Dispose();
        SegmentMemoryKeys?.Dispose();
        SegmentValues?.Dispose();
        Infini?.Dispose();
        DisposeShards();
    }

    private void DisposeShards()
    {
        foreach (var (keys, values) in _shards ?? [])
        {
            keys.Dispose();
            values.Dispose();
        }

        _shards = null;
    }
}
