using LongContext.Attention.Blockwise;
using LongContext.Attention.Star;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LongContext.Attention.Tests;

/// <summary>Star attention against full attention through a random multi-layer attention stack: exact where it must be, measured where it is not.</summary>
public sealed class StarFidelityTests(ITestOutputHelper output)
{
    private const int Layers = 3, Heads = 2, HeadDim = 16, Model = Heads * HeadDim, Context = 192, QueryTokens = 8;

    [Fact]
    public void QueryStates_MatchFullAttentionExactly_WhenTheAnchorCoversTheContext_AndAreMeasuredOtherwise()
    {
        var generator = new Generator((ulong)Random.Shared.NextInt64());
        var weights = Enumerable.Range(0, Layers).Select(_ => Enumerable.Range(0, 4).Select(_ => randn([Model, Model], generator: generator) / Math.Sqrt(Model)).ToArray()).ToList();
        var input = randn([1, Context + QueryTokens, Model], generator: generator);

        var full = Full(input, weights).narrow(1, Context, QueryTokens);
        var errors = new List<string>();
        foreach (var block in new[] { Context, 96, 48, 24 })
        {
            var star = Star(input, weights, block);
            var relative = ((star - full).norm() / full.norm()).item<float>();
            errors.Add($"blocks of {block}: relative error {relative:0.0000}, cosine {nn.functional.cosine_similarity(star.flatten(), full.flatten(), dim: 0).item<float>():0.0000}");
            if (block == Context)
            {
                Assert.True(relative < 1e-5, $"one block must be exact, got {relative}");
            }
        }

        output.WriteLine($"star vs full, {Layers}-layer random attention stack, {Context}-token context, {QueryTokens} query tokens (anchor = one block): " + string.Join("; ", errors));
    }

    private static (Tensor Q, Tensor K, Tensor V) Project(Tensor x, Tensor[] w) =>
        (Heads4(matmul(x, w[0])), Heads4(matmul(x, w[1])), Heads4(matmul(x, w[2])));

    private static Tensor Heads4(Tensor x) => x.reshape(x.shape[0], x.shape[1], Heads, HeadDim).transpose(1, 2);

    private static Tensor Merge(Tensor x) => x.transpose(1, 2).reshape(x.shape[0], x.shape[2], Model);

    private static Tensor Full(Tensor x, List<Tensor[]> weights)
    {
        foreach (var w in weights)
        {
            var (q, k, v) = Project(x, w);
            x = x + matmul(Merge(BlockAttention.Attend(q, k, v, new BlockMask(Causal: true)).Output), w[3]);
        }

        return x;
    }

    /// <summary>Context through star phase 1 layer by layer; the query tokens through phase 2 over the context's per-block caches.</summary>
    private static Tensor Star(Tensor input, List<Tensor[]> weights, int block)
    {
        var context = input.narrow(1, 0, Context);
        var query = input.narrow(1, Context, QueryTokens);
        foreach (var w in weights)
        {
            var (cq, ck, cv) = Project(context, w);
            var (qq, qk, qv) = Project(query, w);
            var blocks = Enumerable.Range(0, (Context + block - 1) / block).Select(b => (ck.narrow(2, b * block, Math.Min(block, Context - b * block)), cv.narrow(2, b * block, Math.Min(block, Context - b * block)))).ToList();
            var queryOut = StarAttention.AttendQuery(qq, blocks, qk, qv).Output;
            context = context + matmul(Merge(StarAttention.EncodeContext(cq, ck, cv, block)), w[3]);
            query = query + matmul(Merge(queryOut), w[3]);
        }

        return query;
    }
}
