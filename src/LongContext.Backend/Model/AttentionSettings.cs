using LongContext.Attention.Ring;

namespace LongContext.Backend.Model;

/// <summary>The attention method of a request's prefill. Decoding attends to the cache the method left.</summary>
public enum AttentionMethod
{
    /// <summary>Exact causal attention (libtorch's fused kernel).</summary>
    Full,

    /// <summary>Exact: the sequence sharded over ranks (CUDA devices when several), K/V passed round the ring.</summary>
    Ring,

    /// <summary>Star attention: context blocks each see the anchor and themselves; the query sees everything, exactly.</summary>
    Star,

    /// <summary>Infini-attention: local attention within segments plus a compressive memory of earlier segments.</summary>
    Infini,

    /// <summary>Sliding window plus global tokens.</summary>
    Sparse,
}

/// <summary>What the KV cache keeps after the prompt's prefill.</summary>
public enum KvPolicy
{
    /// <summary>Everything.</summary>
    Full,

    /// <summary>StreamingLLM: the first tokens (sinks) and the most recent.</summary>
    StreamingLlm,

    /// <summary>H2O: the tokens with the most accumulated attention, and the most recent.</summary>
    HeavyHitter,

    /// <summary>SnapKV: tokens voted for by the prompt's last queries.</summary>
    SnapKv,

    /// <summary>Quest: the pages whose key bounds score highest for the last query.</summary>
    Quest,

    /// <summary>Coarse eviction (SnapKV) then query-aware page selection (Quest).</summary>
    TwoStage,
}

/// <summary>A request's attention method and its parameters; the server's config gives the defaults.</summary>
public sealed record AttentionSettings
{
    public AttentionMethod Method { get; init; } = AttentionMethod.Full;

    public int RingRanks { get; init; } = 4;

    public RingSharding RingSharding { get; init; } = RingSharding.Zigzag;

    public int StarBlockTokens { get; init; } = 1024;

    /// <summary>Anchor size; null = one block.</summary>
    public int? StarAnchorTokens { get; init; }

    /// <summary>When the prompt is one message, its last this-many tokens are star's query (with several messages the last message is).</summary>
    public int StarQueryTokens { get; init; } = 64;

    public int InfiniSegmentTokens { get; init; } = 2048;

    public int SparseWindow { get; init; } = 512;

    /// <summary>The first this-many tokens are global: they see and are seen by every token.</summary>
    public int SparseGlobalTokens { get; init; } = 4;

    /// <summary>
    /// Scale each query past the model's training length by ln(position+1)/ln(training length)
    /// (needs <c>lcg_training_length</c> in config.json; ignored without it).
    /// </summary>
    public bool LogLengthScaling { get; init; }

    /// <summary>
    /// Self-Extend's group size G for full attention: keys farther than <see cref="SelfExtendWindow"/>
    /// are seen at positions divided by G, so a model reads about G times its training length. 1 = off.
    /// </summary>
    public int SelfExtendGroup { get; init; } = 1;

    /// <summary>Self-Extend's neighbour window W: the nearest W keys keep their true positions.</summary>
    public int SelfExtendWindow { get; init; } = 256;

    public KvPolicy KvPolicy { get; init; } = KvPolicy.Full;

    /// <summary>The KV cache keeps 1/ratio of the prompt's entries (at least one).</summary>
    public double KvCompressionRatio { get; init; } = 4;

    /// <summary>Checks each parameter, naming the one out of range.</summary>
    public AttentionSettings Validate()
    {
        static void AtLeast(double value, double minimum, string name)
        {
            if (double.IsNaN(value) || value < minimum)
            {
                throw new ArgumentException($"{name} must be at least {minimum} (got {value}).", name);
            }
        }

        AtLeast(RingRanks, 1, "ring_ranks");
        AtLeast(StarBlockTokens, 1, "star_block_tokens");
        AtLeast(StarAnchorTokens ?? 1, 1, "star_anchor_tokens");
        AtLeast(StarQueryTokens, 1, "star_query_tokens");
        AtLeast(InfiniSegmentTokens, 1, "infini_segment_tokens");
        AtLeast(SparseWindow, 1, "sparse_window");
        AtLeast(SparseGlobalTokens, 0, "sparse_global_tokens");
        AtLeast(KvCompressionRatio, 1, "kv_compression_ratio");
        AtLeast(SelfExtendGroup, 1, "self_extend_group");
        AtLeast(SelfExtendWindow, 1, "self_extend_window");
        if (SelfExtendGroup > 1 && (Method != AttentionMethod.Full || KvPolicy != KvPolicy.Full))
        {
            throw new ArgumentException("self_extend_group applies to method full with kv_policy full.", "self_extend_group");
        }

        return this;
    }
}
