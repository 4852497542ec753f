using LongContext.Attention.KvCompression;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LongContext.Attention.Tests;

public sealed class KvCompressionTests(ITestOutputHelper output)
{
    private const int Length = 512;
    private const int D = 32;

    /// <summary>A prompt of random keys with one needle key at <paramref name="position"/> that the decoding query matches; the last prompt queries ask for it too.</summary>
    private static (Tensor PromptQ, Tensor K, Tensor V, Tensor Query, Tensor Needle) Prompt(long position)
    {
        var generator = new Generator((ulong)Random.Shared.NextInt64());
        var k = randn([1, 2, Length, D], generator: generator) * 0.3;
        var v = randn([1, 2, Length, D], generator: generator);
        var q = randn([1, 4, Length, D], generator: generator) * 0.3;
        var probe = randn([D], generator: generator) * 2;
        k[.., .., position] = probe;
        q[.., .., (Length - 8)..] = probe;
        var query = probe.reshape(1, 1, 1, D).expand(1, 4, 1, D).contiguous();
        return (q, k, v, query, v[0, 0, position].clone());
    }

    private static IKvCompressor[] Methods(Tensor promptQ, Tensor k) =>
    [
        new StreamingLlm(sinks: 4),
        new HeavyHitterOracle(HeavyHitterOracle.Accumulate(promptQ, k)),
        new SnapKv(promptQ, observationWindow: 16),
        new Quest(pageSize: 16),
        new TwoStage(new SnapKv(promptQ, observationWindow: 16), new Quest(pageSize: 16)),
    ];

    [Theory]
    [InlineData(2.0)]
    [InlineData(4.0)]
    [InlineData(8.0)]
    public void EveryMethod_KeepsWithinTheBudgetOfItsRatio(double ratio)
    {
        var (promptQ, k, v, query, _) = Prompt(100);
        var budget = KvSelection.Budget(Length, ratio);

        foreach (var method in Methods(promptQ, k))
        {
            var kept = method.Choose(k, v, query, budget);
            Assert.Equal([1, 2], kept.shape[..2]);
            Assert.InRange(kept.shape[2], 1, budget);
            Assert.True(kept.min().item<long>() >= 0 && kept.max().item<long>() < Length, method.Name);
        }
    }

    [Fact]
    public void StreamingLlm_LosesANeedleOutsideItsSinksAndWindow()
    {
        foreach (var (position, visible) in new[] { (2L, true), (200L, false), (Length - 10L, true) })
        {
            var (promptQ, k, v, query, needle) = Prompt(position);
            var kept = new StreamingLlm(sinks: 4).Choose(k, v, query, budget: 64);
            var result = KvSelection.Attend(query, k, v, kept)[0, 0, 0];
            Assert.Equal(visible, nn.functional.cosine_similarity(result, needle, dim: 0).item<float>() > 0.9);
        }
    }

    [Fact]
    public void HeavyHitters_AndObservationVotes_KeepTheKeyEveryoneAttendsTo()
    {
        var (promptQ, k, v, query, _) = Prompt(137);
        var accumulated = HeavyHitterOracle.Accumulate(promptQ, k);

        Assert.True(new HeavyHitterOracle(accumulated).Choose(k, v, query, 64).eq(137).any().item<bool>());
        Assert.True(new SnapKv(promptQ, observationWindow: 16).Choose(k, v, query, 64).eq(137).any().item<bool>());
        Assert.True(new Quest().Choose(k, v, query, 64).eq(137).any().item<bool>());
    }

    [Fact]
    public void NeedleRecall_AtOneEighthOfTheCache_IsMeasuredForEveryMethod()
    {
        var depths = Enumerable.Range(0, 11).Select(i => (long)Math.Min(Length - 1, i * Length / 10)).ToList();
        var found = new Dictionary<string, int>();
        foreach (var position in depths)
        {
            var (promptQ, k, v, query, needle) = Prompt(position);
            foreach (var method in Methods(promptQ, k))
            {
                var result = KvSelection.Attend(query, k, v, method.Choose(k, v, query, KvSelection.Budget(Length, 8)))[0, 0, 0];
                found[method.Name] = found.GetValueOrDefault(method.Name) + (nn.functional.cosine_similarity(result, needle, dim: 0).item<float>() > 0.9 ? 1 : 0);
            }
        }

        output.WriteLine($"needle retrieved at {depths.Count} depths, cache compressed 8×: " + string.Join(", ", found.Select(f => $"{f.Key} {f.Value}/{depths.Count}")));
        // Query-aware selection and window voting see the needle wherever it is; StreamingLLM only at the ends.
        Assert.Equal(depths.Count, found["quest"]);
        Assert.Equal(depths.Count, found["snapkv"]);
        Assert.True(found["streaming_llm"] < depths.Count);
    }
}
