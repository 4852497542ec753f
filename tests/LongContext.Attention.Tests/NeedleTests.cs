using LongContext.Attention.Blockwise;
using LongContext.Attention.Infini;
using LongContext.Attention.Ring;
using LongContext.Attention.Sparse;
using LongContext.Attention.Star;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LongContext.Attention.Tests;

/// <summary>
/// A planted needle: one context key that matches the final query strongly, at depths 0–100 %.
/// Exact methods must always retrieve its value; approximate ones are measured and reported.
/// </summary>
public sealed class NeedleTests(ITestOutputHelper output)
{
    private const int Length = 256;
    private const int D = 32;

    private static (Tensor Q, Tensor K, Tensor V, Tensor Needle) Haystack(long position)
    {
        var generator = new Generator((ulong)Random.Shared.NextInt64());
        var k = randn([1, 1, Length + 1, D], generator: generator) * 0.3;
        var v = randn([1, 1, Length + 1, D], generator: generator);
        var q = randn([1, 1, Length + 1, D], generator: generator) * 0.3;
        var probe = randn([D], generator: generator);
        q[0, 0, Length] = probe * 2;
        k[0, 0, position] = probe * 2;
        return (q, k, v, v[0, 0, position].clone());
    }

    private static bool Retrieved(Tensor last, Tensor needle) => nn.functional.cosine_similarity(last, needle, dim: 0).item<float>() > 0.9;

    [Fact]
    public void ExactMethods_AlwaysRetrieveTheNeedle_SparseOnlyInItsWindowOrAtAGlobalToken()
    {
        var depths = Enumerable.Range(0, 11).Select(i => (long)Math.Min(Length - 1, i * Length / 10)).ToList();
        var (window, global) = (32, 100L);
        foreach (var position in depths.Append(global))
        {
            var (q, k, v, needle) = Haystack(position);
            var full = BlockAttention.Attend(q, k, v, new BlockMask(Causal: true)).Output[0, 0, Length];
            var ring = RingAttention.Attend(q, k, v, ranks: 4, causal: true)[0, 0, Length];
            var blocks = new[] { 0L, 64, 128, 192 }.Select(s => (k.narrow(2, s, 64), v.narrow(2, s, 64))).ToList();
            var star = StarAttention.AttendQuery(q.narrow(2, Length, 1), blocks, k.narrow(2, Length, 1), v.narrow(2, Length, 1)).Output[0, 0, 0];
            var sparse = SparseAttention.Attend(q, k, v, window, [global], causal: true)[0, 0, Length];

            Assert.True(Retrieved(full, needle), $"full missed the needle at {position}");
            Assert.True(Retrieved(ring, needle), $"ring missed the needle at {position}");
            Assert.True(Retrieved(star, needle), $"star missed the needle at {position}");
            var reachable = position > Length - window || position == global;
            Assert.Equal(reachable, Retrieved(sparse, needle));
        }
    }

    [Fact]
    public void InfiniAttention_LocalPathSeesItsSegment_MemoryPathIsMeasured()
    {
        var depths = Enumerable.Range(0, 11).Select(i => (long)Math.Min(Length - 1, i * Length / 10)).ToList();
        var throughMemory = 0;
        foreach (var position in depths)
        {
            var (q, k, v, needle) = Haystack(position);
            using var local = new InfiniAttention(segmentLength: 64, beta: full(1, -1e4f));
            using var mixed = new InfiniAttention(segmentLength: 64, beta: zeros(1));

            // The query (position 256) is alone in the last segment: the local path alone never reaches the context.
            Assert.False(Retrieved(local.Forward(q, k, v)[0, 0, Length], needle), $"local path reached the needle at {position}");
            throughMemory += Retrieved(mixed.Forward(q, k, v)[0, 0, Length], needle) ? 1 : 0;
        }

        // Reported, not assumed: gate ½ (untrained), delta rule, memory written from random keys.
        output.WriteLine($"infini-attention (segments of 64, gate 1/2, delta rule): needle retrieved through the memory at {throughMemory} of {depths.Count} depths");
    }
}
