using LongContext.Routing.ContextRot;
using LongContext.Routing.Memory;
using LongContext.Routing.Pricing;

namespace LongContext.Routing.Catalog;

/// <summary>What routing knows about one model: window, prices, tokenizer, context rot, speed.</summary>
public sealed record ModelProfile
{
    public required string Id { get; init; }

    public required long ContextWindow { get; init; }

    public required ModelPrices Prices { get; init; }

    public string Tokenizer { get; init; } = "";

    public required ContextRotCurve ContextRot { get; init; }

    /// <summary>Whether the model may answer RAG prompts (usually the cheaper models).</summary>
    public bool ServesRag { get; init; } = true;

    /// <summary>Whether the model may take the whole corpus (long-context route).</summary>
    public bool ServesLongContext { get; init; } = true;

    /// <summary>Prompt tokens per second, for expected latency.</summary>
    public double PrefillTokensPerSecond { get; init; } = 10_000;

    /// <summary>Generated tokens per second, for expected latency.</summary>
    public double DecodeTokensPerSecond { get; init; } = 60;

    /// <summary>
    /// Why the model cannot be called right now (e.g. its upstream has no API key), or null.
    /// Its candidates are still listed, with this reason, so the counterfactual costs stay visible.
    /// </summary>
    public string? UnavailableBecause { get; init; }

    /// <summary>Set for the project's own backend: its KV cache must fit its GPUs, per attention method.</summary>
    public SelfHostedProfile? SelfHosted { get; init; }
}

public sealed record SelfHostedProfile
{
    public required KvCacheShape Kv { get; init; }

    public int Gpus { get; init; } = 1;

    public long GpuMemoryBytes { get; init; }

    /// <summary>Weights and activations resident on each GPU, not available to the KV cache.</summary>
    public long ReservedBytesPerGpu { get; init; }

    public IReadOnlyList<AttentionProfile> Attention { get; init; } = [];

    public long FreeBytesPerGpu => Math.Max(0, GpuMemoryBytes - ReservedBytesPerGpu);
}

/// <summary>How an attention method changes memory, recall and speed relative to full attention.</summary>
public sealed record AttentionProfile
{
    public required string Method { get; init; }

    /// <summary>Multiplier on recall: 1 for exact methods (full, ring), below 1 for approximate ones.</summary>
    public double RecallFactor { get; init; } = 1;

    /// <summary>True when the KV cache is split over the GPUs (ring, star); false when one GPU holds it.</summary>
    public bool ShardsKvOverGpus { get; init; }

    /// <summary>Most tokens whose KV is kept at once (infini-attention keeps one segment plus a fixed memory).</summary>
    public long? KvTokenLimit { get; init; }

    /// <summary>Multiplier on prefill throughput relative to full attention on one GPU.</summary>
    public double ThroughputFactor { get; init; } = 1;

    /// <summary>Where the factors come from.</summary>
    public string Source { get; init; } = "";
}
