using LongContext.Attention.Blockwise;
using LongContext.Attention.Extend;
using LongContext.Attention.Infini;
using LongContext.Attention.KvCompression;
using LongContext.Attention.Ring;
using LongContext.Attention.Sparse;
using LongContext.Attention.Star;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LongContext.Backend.Model;

/// <summary>
/// A Llama-family decoder (RMSNorm, rotary positions, grouped-query attention, SwiGLU) whose
/// attention is chosen per call: full, ring, star, infini or sparse for the prompt's prefill, then
/// incremental decoding over the KV cache the method left (optionally compressed).
/// Ring prefill is context parallel: the prompt is sharded along the sequence over the ring's ranks
/// (one per device of <paramref name="ringDevices"/>, round robin), every layer's activations stay
/// on their shard — norms, projections and MLP local, attention by ring — and so does the KV cache.
/// The decoder owns the copies of the weights it makes for those devices, not the weights given.
/// </summary>
public sealed class Decoder(DecoderWeights weights, IReadOnlyList<Device>? ringDevices = null) : IDisposable
{
    private readonly Dictionary<string, Dictionary<string, Tensor>> _replicas = [];
    private readonly Lock _replicasLock = new();

    public DecoderConfig Config => weights.Config;

    public DecoderWeights Weights => weights;

    public Device Device => weights["model.embed_tokens.weight"].device;

    public KvCache NewCache() => new(Config.Layers);

    /// <summary>
    /// Logits for every position of a batch, full causal attention (or infini-attention with
    /// segments of <paramref name="infiniSegmentTokens"/>), positions given per token (batch,
    /// length) — the training path (gradients flow).
    /// </summary>
    public Tensor TrainingLogits(Tensor tokens, Tensor positions, int? infiniSegmentTokens = null)
    {
        var h = Embed(tokens);
        for (var i = 0; i < Config.Layers; i++)
        {
            var (q, k, v, mq, mk) = Project(i, h, positions);
            using (mq)
            using (mk)
            {
                Tensor attention;
                if (infiniSegmentTokens is { } segment)
                {
                    // Infini-attention end to end: gradients reach the memory path and the gate.
                    using var infini = new InfiniAttention(segment, weights[DecoderWeights.InfiniGate(i)]);
                    attention = infini.Forward(q, k, v, mq, mk);
                }
                else
                {
                    attention = F.scaled_dot_product_attention(q, InfiniAttention.ToQueryHeads(k, q), InfiniAttention.ToQueryHeads(v, q), is_casual: true);
                }

                h = Residual(i, h, attention);
            }
        }

        return Head(h);
    }

    /// <summary>
    /// Runs tokens (1, length) after what the cache holds and returns the logits of the last
    /// position (or of every position). The first call on an empty cache is the prompt's prefill
    /// with the chosen method; later calls decode token by token over the cache.
    /// <paramref name="queryStart"/> (star) is where the query begins in the prompt: tokens before it
    /// are context, encoded blockwise; tokens from it attend to everything.
    /// </summary>
    public Tensor Forward(Tensor tokens, KvCache cache, AttentionSettings settings, long? queryStart = null, bool allLogits = false)
    {
        if (cache.NextPosition > 0 && tokens.shape[1] > 1)
        {
            // Continuing a sequence with several tokens: one at a time, so every method keeps its decoding rule.
            var logits = new List<Tensor>();
            for (var t = 0; t < tokens.shape[1]; t++)
            {
                logits.Add(Forward(tokens.narrow(1, t, 1), cache, settings));
            }

            using var all = cat([.. logits], 1);
            logits.ForEach(l => l.Dispose());
            return allLogits ? all.clone() : all.narrow(1, all.shape[1] - 1, 1).clone();
        }

        if (cache.NextPosition == 0 && settings.Method == AttentionMethod.Ring)
        {
            return PrefillContextParallel(tokens, cache, settings, allLogits);
        }

        using var scope = NewDisposeScope();
        var length = tokens.shape[1];
        var prefill = cache.NextPosition == 0;
        var positions = arange(cache.NextPosition, cache.NextPosition + length, dtype: ScalarType.Int64, device: tokens.device);
        var h = Embed(tokens);
        for (var i = 0; i < Config.Layers; i++)
        {
            var (q, k, v, mq, mk) = Project(i, h, positions);
            q = LengthScaled(q, positions, settings);
            var layer = cache.Layers[i];
            var attention = prefill
                ? Prefill(i, layer, q, k, v, mq, mk, settings, queryStart ?? Math.Max(0, length - 1))
                : Decode(layer, q, k, v, mq, mk, settings, cache);
            h = Residual(i, h, attention);
        }

        if (prefill)
        {
            cache.PromptTokens = length;
        }

        cache.NextPosition += length;
        var last = allLogits ? h : h.narrow(1, length - 1, 1);
        return Head(last).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        lock (_replicasLock)
        {
            foreach (var tensor in _replicas.Values.SelectMany(r => r.Values))
            {
                tensor.Dispose();
            }

            _replicas.Clear();
        }
    }

    /// <summary>The weights on <paramref name="device"/>: the parameters themselves on theirs, a copy (made once) elsewhere.</summary>
    private Func<string, Tensor> WeightsOn(Device device)
    {
        if (device.type == Device.type && device.index == Device.index)
        {
            return name => weights[name];
        }

        lock (_replicasLock)
        {
            var key = device.ToString();
            if (!_replicas.TryGetValue(key, out var replica))
            {
                using (no_grad())
                {
                    replica = weights.Parameters.ToDictionary(p => p.Key, p => p.Value.detach().to(device).DetachFromDisposeScope(), StringComparer.Ordinal);
                }

                _replicas[key] = replica;
            }

            return name => replica.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"The checkpoint has no tensor '{name}'.");
        }
    }

    private Tensor Embed(Tensor tokens) => Embed(tokens, name => weights[name]);

    private Tensor Embed(Tensor tokens, Func<string, Tensor> w) =>
        w("model.embed_tokens.weight").index_select(0, tokens.flatten()).view(tokens.shape[0], tokens.shape[1], Config.HiddenSize);

    private (Tensor Q, Tensor K, Tensor V, Tensor MemoryQ, Tensor MemoryK) Project(int layer, Tensor h, Tensor positions) =>
        Project(layer, h, positions, name => weights[name]);

    private (Tensor Q, Tensor K, Tensor V, Tensor MemoryQ, Tensor MemoryK) Project(int layer, Tensor h, Tensor positions, Func<string, Tensor> w)
    {
        var prefix = $"model.layers.{layer}.";
        var x = RmsNorm(h, w(prefix + "input_layernorm.weight"));
        var (b, t) = (h.shape[0], h.shape[1]);
        var d = Config.HeadDimension;
        var q = F.linear(x, w(prefix + "self_attn.q_proj.weight")).view(b, t, Config.Heads, d).transpose(1, 2);
        var k = F.linear(x, w(prefix + "self_attn.k_proj.weight")).view(b, t, Config.KeyValueHeads, d).transpose(1, 2);
        var v = F.linear(x, w(prefix + "self_attn.v_proj.weight")).view(b, t, Config.KeyValueHeads, d).transpose(1, 2);
        return (Rope.Apply(q, positions, Config.RopeTheta), Rope.Apply(k, positions, Config.RopeTheta), v, q, k);
    }

    /// <summary>
    /// Log-length scaling of attention logits: past the training length L a query at position p is
    /// multiplied by ln(p+1)/ln(L), so its softmax stays as sharp over more keys as it was over L
    /// (at or below L the factor is 1 and the model is unchanged).
    /// </summary>
    private Tensor LengthScaled(Tensor q, Tensor positions, AttentionSettings settings)
    {
        if (!settings.LogLengthScaling || Config.TrainingLength is not { } trained || trained < 2)
        {
            return q;
        }

        var factor = ((positions.to(ScalarType.Float32, q.device) + 1).log() / Math.Log(trained)).clamp_min(1);
        return q * factor.view(1, 1, -1, 1).to(q.dtype);
    }

    private Tensor Residual(int layer, Tensor h, Tensor attention) => Residual(layer, h, attention, name => weights[name]);

    private Tensor Residual(int layer, Tensor h, Tensor attention, Func<string, Tensor> w)
    {
        var prefix = $"model.layers.{layer}.";
        var (b, t) = (h.shape[0], h.shape[1]);
        h = h + F.linear(attention.to(h.dtype).transpose(1, 2).reshape(b, t, Config.Heads * Config.HeadDimension), w(prefix + "self_attn.o_proj.weight"));
        var x = RmsNorm(h, w(prefix + "post_attention_layernorm.weight"));
        var mlp = F.silu(F.linear(x, w(prefix + "mlp.gate_proj.weight"))) * F.linear(x, w(prefix + "mlp.up_proj.weight"));
        return h + F.linear(mlp, w(prefix + "mlp.down_proj.weight"));
    }

    private Tensor Head(Tensor h) => Head(h, name => weights[name]);

    private Tensor Head(Tensor h, Func<string, Tensor> w) =>
        F.linear(RmsNorm(h, w("model.norm.weight")), w(Config.TieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight"));

    private Tensor RmsNorm(Tensor x, Tensor weight)
    {
        var xf = x.to(ScalarType.Float32);
        var normalised = xf * (xf.pow(2).mean([-1], keepdim: true) + Config.RmsNormEpsilon).rsqrt();
        return normalised.to(x.dtype) * weight;
    }

    /// <summary>
    /// Ring prefill with every layer sharded along the sequence: rank r holds its pieces' hidden
    /// states on its device, computes norms, projections and MLP there, and meets the other ranks
    /// only in ring attention. The KV cache stays sharded (gathered on the first device only when a
    /// KV policy compresses it, which is what makes it fit one device).
    /// </summary>
    private Tensor PrefillContextParallel(Tensor tokens, KvCache cache, AttentionSettings settings, bool allLogits)
    {
        using var scope = NewDisposeScope();
        var length = tokens.shape[1];
        var layout = RingAttention.Layout(length, settings.RingRanks, settings.RingSharding);
        var ranks = layout.Length;
        var devices = Enumerable.Range(0, ranks).Select(r => ringDevices is { Count: > 0 } ? ringDevices[r % ringDevices.Count] : Device).ToArray();
        var w = devices.Select(WeightsOn).ToArray();
        var positions = layout.Select((pieces, r) => cat([.. pieces.Select(p => arange(p.Start, p.End, dtype: ScalarType.Int64))], 0).to(devices[r])).ToArray();
        var hidden = positions.Select((p, r) => Embed(tokens.index_select(1, p.to(tokens.device)).to(devices[r]), w[r])).ToArray();
        var compress = settings.KvPolicy != KvPolicy.Full;
        for (var i = 0; i < Config.Layers; i++)
        {
            using var layerScope = NewDisposeScope();
            var projected = Enumerable.Range(0, ranks).Select(r => Project(i, hidden[r], positions[r], w[r])).Select((p, r) => p with { Q = LengthScaled(p.Q, positions[r], settings) }).ToArray();
            var outputs = RingAttention.AttendShards([.. projected.Select((p, r) => new RingShard(layout[r], p.Q, p.K, p.V))], causal: true);
            var layer = cache.Layers[i];
            if (compress)
            {
                // The policy needs the whole prompt in order; what it keeps fits the first device.
                var (q, k, v) = (InOrder(projected.Select(p => p.Q), layout), InOrder(projected.Select(p => p.K), layout), InOrder(projected.Select(p => p.V), layout));
                layer.KeepPromptQueries(q.narrow(2, Math.Max(0, length - 32), Math.Min(32, length)));
                Compress(layer, q, k, v, settings);
            }
            else
            {
                layer.SetShards([.. projected.Select(p => (p.K.clone(), p.V.clone()))]);
            }

            for (var r = 0; r < ranks; r++)
            {
                var next = Residual(i, hidden[r], outputs[r], w[r]).MoveToOuterDisposeScope();
                hidden[r].Dispose();
                hidden[r] = next;
            }
        }

        cache.PromptTokens = length;
        cache.NextPosition = length;
        if (allLogits)
        {
            return Head(InOrder(hidden, layout)).MoveToOuterDisposeScope();
        }

        // The last position sits at the end of the last piece of the rank that owns it.
        var owner = Array.FindIndex(layout, pieces => pieces[^1].End == length);
        var last = hidden[owner].narrow(1, hidden[owner].shape[1] - 1, 1);
        return Head(last, w[owner]).to(Device).MoveToOuterDisposeScope();
    }

    /// <summary>The ranks' tensors (…, Σ their pieces, …) along dim −2 or 1 put back into sequence order on the first device.</summary>
    private Tensor InOrder(IEnumerable<Tensor> perRank, IReadOnlyList<RingPiece>[] layout)
    {
        var parts = new List<(long Start, Tensor Part)>();
        foreach (var (x, pieces) in perRank.Zip(layout))
        {
            // Hidden states are (batch, length, hidden); attention tensors (batch, heads, length, d).
            var dim = x.dim() == 3 ? 1 : 2;
            var offset = 0L;
            foreach (var piece in pieces)
            {
                parts.Add((piece.Start, x.narrow(dim, offset, piece.Length).to(Device)));
                offset += piece.Length;
            }
        }

        var ordered = parts.OrderBy(p => p.Start).Select(p => p.Part).ToArray();
        return cat(ordered, ordered[0].dim() == 3 ? 1 : 2);
    }

    private Tensor Prefill(int index, LayerCache layer, Tensor q, Tensor k, Tensor v, Tensor mq, Tensor mk, AttentionSettings settings, long queryStart)
    {
        var length = q.shape[2];
        Tensor output;
        switch (settings.Method)
        {
            case AttentionMethod.Full when settings.SelfExtendGroup > 1:
                output = SelfExtend(layer, q, k, v, mq, mk, 0, settings);
                break;
            case AttentionMethod.Full:
                output = F.scaled_dot_product_attention(q, InfiniAttention.ToQueryHeads(k, q), InfiniAttention.ToQueryHeads(v, q), is_casual: true);
                break;
            case AttentionMethod.Star when queryStart > 0 && queryStart < length:
                var context = StarAttention.EncodeContext(q.narrow(2, 0, queryStart), k.narrow(2, 0, queryStart), v.narrow(2, 0, queryStart), settings.StarBlockTokens, settings.StarAnchorTokens);
                var blocks = new List<(Tensor, Tensor)>();
                for (var start = 0L; start < queryStart; start += settings.StarBlockTokens)
                {
                    var size = Math.Min(settings.StarBlockTokens, queryStart - start);
                    blocks.Add((k.narrow(2, start, size), v.narrow(2, start, size)));
                }

                var rest = length - queryStart;
                var query = StarAttention.AttendQuery(q.narrow(2, queryStart, rest), blocks, k.narrow(2, queryStart, rest), v.narrow(2, queryStart, rest)).Output;
                output = cat([context, query.to(context.dtype)], 2);
                break;
            case AttentionMethod.Star:
                output = StarAttention.EncodeContext(q, k, v, settings.StarBlockTokens, settings.StarAnchorTokens);
                break;
            case AttentionMethod.Sparse:
                output = SparseAttention.Attend(q, k, v, settings.SparseWindow, [.. Enumerable.Range(0, (int)Math.Min(settings.SparseGlobalTokens, length)).Select(i => (long)i)], causal: true);
                break;
            case AttentionMethod.Infini:
                return PrefillInfini(index, layer, q, k, v, mq, mk, settings);
            default:
                throw new ArgumentOutOfRangeException(nameof(settings), settings.Method, "Unknown attention method.");
        }

        layer.KeepPromptQueries(q.narrow(2, Math.Max(0, length - 32), Math.Min(32, length)));
        Compress(layer, q, k, v, settings);
        return output;
    }

    /// <summary>
    /// Self-Extend over everything cached so far: the new tokens' keys are rotated once more at their
    /// grouped positions and kept, the queries rotated at theirs; near keys scored at true positions,
    /// far ones at grouped positions.
    /// </summary>
    private Tensor SelfExtend(LayerCache layer, Tensor q, Tensor keys, Tensor values, Tensor mq, Tensor mk, long firstPosition, AttentionSettings settings)
    {
        var (group, window) = (settings.SelfExtendGroup, settings.SelfExtendWindow);
        var positions = arange(firstPosition, firstPosition + q.shape[2], dtype: ScalarType.Int64, device: q.device);
        layer.AppendGroupedKeys(Rope.Apply(mk, SelfExtendAttention.GroupedKeyPositions(positions, group), Config.RopeTheta));
        var groupedQ = Rope.Apply(mq, SelfExtendAttention.GroupedQueryPositions(positions, group, window), Config.RopeTheta);
        return SelfExtendAttention.Attend(q, keys, groupedQ, layer.GroupedKeys!, values, window, firstPosition);
    }

    /// <summary>Evicting policies shrink the cache once, after the prompt; query-aware ones choose at every decoding step.</summary>
    private static void Compress(LayerCache layer, Tensor q, Tensor k, Tensor v, AttentionSettings settings)
    {
        var budget = KvSelection.Budget(k.shape[2], settings.KvCompressionRatio);
        IKvCompressor? evicting = settings.KvPolicy switch
        {
            KvPolicy.StreamingLlm => new StreamingLlm(),
            KvPolicy.HeavyHitter => new HeavyHitterOracle(HeavyHitterOracle.Accumulate(q, k)),
            KvPolicy.SnapKv => new SnapKv(q),
            _ => null,
        };
        if (evicting is null || budget >= k.shape[2])
        {
            layer.Replace(k.clone(), v.clone());
            return;
        }

        var kept = evicting.Choose(k, v, null, budget).unsqueeze(-1).expand(-1, -1, -1, k.shape[3]);
        layer.Replace(k.gather(2, kept), v.gather(2, kept));
    }

    private Tensor PrefillInfini(int index, LayerCache layer, Tensor q, Tensor k, Tensor v, Tensor mq, Tensor mk, AttentionSettings settings)
    {
        var length = q.shape[2];
        var segment = settings.InfiniSegmentTokens;
        layer.Infini = new InfiniAttention(segment, weights[DecoderWeights.InfiniGate(index)]);
        // Whole segments go through the memory; the last, partial one stays local, to be continued by decoding.
        var whole = length / segment * segment;
        var outputs = new List<Tensor>();
        if (whole > 0)
        {
            outputs.Add(layer.Infini.Forward(q.narrow(2, 0, whole), k.narrow(2, 0, whole), v.narrow(2, 0, whole), mq.narrow(2, 0, whole), mk.narrow(2, 0, whole)));
        }

        var rest = length - whole;
        if (rest > 0)
        {
            var (ks, vs) = (InfiniAttention.ToQueryHeads(k.narrow(2, whole, rest), q), InfiniAttention.ToQueryHeads(v.narrow(2, whole, rest), q));
            var local = BlockAttention.Attend(q.narrow(2, whole, rest), ks, vs, new BlockMask(Causal: true)).Output;
            outputs.Add(layer.Infini.Mix(layer.Infini.Read(mq.narrow(2, whole, rest)), local).to(q.dtype));
            layer.Replace(k.narrow(2, whole, rest).clone(), v.narrow(2, whole, rest).clone());
            layer.SetSegment(InfiniAttention.ToQueryHeads(mk.narrow(2, whole, rest), q).clone(), vs.clone());
        }
        else
        {
            layer.Replace(k.narrow(2, 0, 0).clone(), v.narrow(2, 0, 0).clone());
            layer.SetSegment(null, null);
        }

        layer.SegmentStart = whole;
        return cat([.. outputs], 2);
    }

    private Tensor Decode(LayerCache layer, Tensor q, Tensor k, Tensor v, Tensor mq, Tensor mk, AttentionSettings settings, KvCache cache)
    {
        layer.Append(k, v);
        var (keys, values) = (layer.Keys!, layer.Values!);
        switch (settings.Method)
        {
            case AttentionMethod.Full when settings.SelfExtendGroup > 1:
                return SelfExtend(layer, q, keys, values, mq, mk, cache.NextPosition, settings);
            case AttentionMethod.Infini:
                return DecodeInfini(layer, q, v, mq, mk, cache, settings);
            case AttentionMethod.Sparse:
                // The window of recent keys plus the global tokens (when the cache still holds them at the front).
                var n = keys.shape[2];
                var globals = Math.Min(settings.SparseGlobalTokens, Math.Max(0, n - settings.SparseWindow));
                var window = Math.Min(settings.SparseWindow, n);
                var kept = cat([arange(0, globals, dtype: ScalarType.Int64, device: q.device), arange(n - window, n, dtype: ScalarType.Int64, device: q.device)], 0);
                return BlockAttention.Attend(q, keys.index_select(2, kept), values.index_select(2, kept)).Output;
        }

        if (settings.KvPolicy is KvPolicy.Quest or KvPolicy.TwoStage)
        {
            var budget = KvSelection.Budget(cache.PromptTokens, settings.KvCompressionRatio);
            if (budget < keys.shape[2])
            {
                var quest = new Quest();
                IKvCompressor chooser = settings.KvPolicy == KvPolicy.Quest ? quest : new TwoStage(new SnapKv(layer.PromptQueries!), quest);
                return KvSelection.Attend(q, keys, values, chooser.Choose(keys, values, q, budget));
            }
        }

        if (layer.Shards is { } shards)
        {
            // The prompt's cache stays where prefill left it: one partial result per shard, merged by log-sum-exp.
            var (output, lse) = BlockAttention.Attend(q, keys, values);
            foreach (var (shardKeys, shardValues) in shards)
            {
                var part = BlockAttention.Attend(q.to(shardKeys.device), shardKeys, shardValues);
                (output, lse) = BlockAttention.Merge(output, lse, part.Output.to(q.device), part.LogSumExp.to(q.device));
            }

            return output;
        }

        // One query over the whole cache: no mask needed, every cached key precedes it.
        return F.scaled_dot_product_attention(q, InfiniAttention.ToQueryHeads(keys, q), InfiniAttention.ToQueryHeads(values, q));
    }

    private static Tensor DecodeInfini(LayerCache layer, Tensor q, Tensor v, Tensor mq, Tensor mk, KvCache cache, AttentionSettings settings)
    {
        var infini = layer.Infini!;
        var (memoryKey, value) = (InfiniAttention.ToQueryHeads(mk, q), InfiniAttention.ToQueryHeads(v, q));
        layer.SetSegment(
            layer.SegmentMemoryKeys is null ? memoryKey.clone() : cat([layer.SegmentMemoryKeys, memoryKey], 2),
            layer.SegmentValues is null ? value.clone() : cat([layer.SegmentValues, value], 2));
        var local = BlockAttention.Attend(q, InfiniAttention.ToQueryHeads(layer.Keys!, q), InfiniAttention.ToQueryHeads(layer.Values!, q)).Output;
        var output = infini.Mix(infini.Read(mq), local).to(q.dtype);
        if (cache.NextPosition + 1 - layer.SegmentStart >= settings.InfiniSegmentTokens)
        {
            // The segment is complete: into the memory, and the local window starts afresh.
            infini.Store(layer.SegmentMemoryKeys!, layer.SegmentValues!);
            layer.SegmentStart = cache.NextPosition + 1;
            layer.Replace(layer.Keys!.narrow(2, 0, 0).clone(), layer.Values!.narrow(2, 0, 0).clone());
            layer.SetSegment(null, null);
        }

        return output;
    }
}
