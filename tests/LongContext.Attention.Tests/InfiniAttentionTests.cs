using LongContext.Attention.Blockwise;
using LongContext.Attention.Infini;
using static TorchSharp.torch;

namespace LongContext.Attention.Tests;

public sealed class InfiniAttentionTests
{
    [Fact]
    public void GateFullyLocal_ReproducesSegmentLocalCausalAttention()
    {
        var (q, k, v) = Reference.Inputs(batch: 1, queryHeads: 4, kvHeads: 2, lq: 40, lk: 40, d: 8);

        // sigmoid(−1e4) is 0 in float32: the memory path contributes nothing.
        using var infini = new InfiniAttention(segmentLength: 16, beta: full(4, -1e4f), update: InfiniMemoryUpdate.Delta);
        var output = infini.Forward(q, k, v);

        foreach (var (start, size) in new[] { (0L, 16L), (16L, 16L), (32L, 8L) })
        {
            var (expected, _) = Reference.Attention(q.narrow(2, start, size), k.narrow(2, start, size), v.narrow(2, start, size), new BlockMask(Causal: true));
            Assert.True((output.narrow(2, start, size).to(ScalarType.Float64) - expected).abs().max().item<double>() <= 1e-5);
        }
    }

    [Fact]
    public void DeltaRule_ReStoringAStoredPair_LeavesTheMemoryUnchanged()
    {
        var (_, k, v) = Reference.Inputs(batch: 1, queryHeads: 2, kvHeads: 2, lq: 1, lk: 1, d: 8);
        using var infini = new InfiniAttention(segmentLength: 1, beta: zeros(2), update: InfiniMemoryUpdate.Delta);

        infini.Store(k, v);
        var once = infini.Memory!.clone();
        infini.Store(k, v);

        Assert.True((infini.Memory! - once).abs().max().item<float>() <= 1e-5 * once.abs().max().item<float>());
    }

    [Fact]
    public void LinearRule_KeepsAdding()
    {
        var (_, k, v) = Reference.Inputs(batch: 1, queryHeads: 2, kvHeads: 2, lq: 1, lk: 1, d: 8);
        using var infini = new InfiniAttention(segmentLength: 1, beta: zeros(2), update: InfiniMemoryUpdate.Linear);

        infini.Store(k, v);
        var once = infini.Memory!.clone();
        infini.Store(k, v);

        Assert.True((infini.Memory! - 2 * once).abs().max().item<float>() <= 1e-5 * once.abs().max().item<float>());
    }

    [Fact]
    public void MemoryStaysTheSameSize_AsTheSequenceGrows()
    {
        var sizes = new List<long>();
        foreach (var length in new[] { 64, 512, 2048 })
        {
            var (q, k, v) = Reference.Inputs(batch: 1, queryHeads: 2, kvHeads: 2, lq: length, lk: length, d: 16);
            using var infini = new InfiniAttention(segmentLength: 64, beta: zeros(2));
            using var output = infini.Forward(q, k, v);
            Assert.False(output.isnan().any().item<bool>());
            sizes.Add(infini.Memory!.numel() + infini.Normaliser!.numel());
        }

        Assert.Single(sizes.Distinct());
        Assert.Equal(2 * 16 * 16 + 2 * 16, sizes[0]);
    }

    [Fact]
    public void MemoryPath_RetrievesAValueStoredSegmentsAgo()
    {
        // One distinctive key/value at the start; later segments are near-zero noise. A query equal to
        // that key, gate fully on memory, reads back something far closer to its value than to noise.
        var d = 16;
        var generator = new TorchSharp.torch.Generator((ulong)Random.Shared.NextInt64());
        var k = randn([1, 1, 256, d], generator: generator) * 0.01;
        var v = randn([1, 1, 256, d], generator: generator) * 0.01;
        var key = randn([d], generator: generator) * 3;
        var value = randn([d], generator: generator);
        k[0, 0, 0] = key;
        v[0, 0, 0] = value;
        using var infini = new InfiniAttention(segmentLength: 32, beta: full(1, 1e4f));
        infini.Forward(k, k, v).Dispose();

        var cosine = nn.functional.cosine_similarity(infini.Forward(key.reshape(1, 1, 1, d), key.reshape(1, 1, 1, d), value.reshape(1, 1, 1, d) * 0)[0, 0, 0], value, dim: 0).item<float>();

        Assert.True(cosine > 0.5, $"retrieved value has cosine {cosine:0.00} to the stored one");
    }
}
