using System.Diagnostics;
using System.Runtime.CompilerServices;
using LongContext.Backend.Model;
using LongContext.Backend.Tokenization;
using static TorchSharp.torch;

namespace LongContext.Backend.Generation;

/// <summary>How to pick each next token and when to stop.</summary>
public sealed record SamplingOptions
{
    public int MaxTokens { get; init; } = 256;

    /// <summary>0 = greedy.</summary>
    public double Temperature { get; init; }

    public double TopP { get; init; } = 1;

    public IReadOnlyList<string> Stop { get; init; } = [];

    public long? Seed { get; init; }
}

/// <summary>A piece of generated text, or the end with its reason and counts.</summary>
public sealed record GenerationUpdate(string Delta, string? FinishReason = null, GenerationStats? Stats = null);

public sealed record GenerationStats(int PromptTokens, int CompletionTokens, TimeSpan Prefill, TimeSpan Decode, long KvBytes);

/// <summary>Prefill once, then decode token by token: sampling, stop sequences, max tokens, streamed text deltas.</summary>
public sealed class TextGenerator(Decoder decoder, ITextTokenizer tokenizer)
{
    public ITextTokenizer Tokenizer => tokenizer;

    public Decoder Decoder => decoder;

    public async IAsyncEnumerable<GenerationUpdate> GenerateAsync(IReadOnlyList<int> prompt, long? queryStart, AttentionSettings attention, SamplingOptions sampling, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var cache = decoder.NewCache();
        using var generator = sampling.Seed is { } seed ? new Generator((ulong)seed) : null;
        var clock = Stopwatch.StartNew();
        var input = tensor(prompt.Select(i => (long)i).ToArray(), [1, prompt.Count]).to(decoder.Device);
        var logits = await Compute(() => decoder.Forward(input, cache, attention, queryStart), cancellationToken);
        input.Dispose();
        var prefill = clock.Elapsed;
        clock.Restart();

        var generated = new List<int>();
        var emitted = 0;
        string? finish = null;
        var text = "";
        while (finish is null)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var next = Pick(logits, sampling, generator);
            logits.Dispose();
            if (tokenizer.EndIds.Contains(next))
            {
                finish = "stop";
                break;
            }

            generated.Add(next);
            text = tokenizer.Decode(generated);
            var stopAt = sampling.Stop.Select(s => text.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
            if (stopAt >= 0)
            {
                text = text[..stopAt];
                finish = "stop";
            }
            else if (generated.Count >= sampling.MaxTokens)
            {
                finish = "length";
            }

            // Hold back what may still become a stop sequence, and a character cut mid-way.
            var safe = finish is null ? text.Length - HeldBack(text, sampling.Stop) : text.Length;
            if (safe > emitted)
            {
                yield return new GenerationUpdate(text[emitted..safe]);
                emitted = safe;
            }

            if (finish is null)
            {
                using var step = tensor(new long[] { next }, [1, 1]).to(decoder.Device);
                logits = await Compute(() => decoder.Forward(step, cache, attention), cancellationToken);
            }
        }

        if (text.Length > emitted)
        {
            yield return new GenerationUpdate(text[emitted..]);
        }

        yield return new GenerationUpdate("", finish, new GenerationStats(prompt.Count, generated.Count, prefill, clock.Elapsed, cache.Bytes));
    }

    /// <summary>Runs a forward pass off the request's thread, without autograd (grad mode is per thread in libtorch).</summary>
    private static Task<Tensor> Compute(Func<Tensor> forward, CancellationToken cancellationToken) => Task.Run(
        () =>
        {
            using var noGrad = no_grad();
            return forward();
        },
        cancellationToken);

    private static int HeldBack(string text, IReadOnlyList<string> stops)
    {
        var hold = text.EndsWith('\uFFFD') ? 1 : 0;
        foreach (var stop in stops)
        {
            for (var n = Math.Min(stop.Length - 1, text.Length); n > hold; n--)
            {
                if (text.AsSpan(text.Length - n).SequenceEqual(stop.AsSpan(0, n)))
                {
                    hold = n;
                    break;
                }
            }
        }

        return hold;
    }

    /// <summary>Greedy at temperature 0; otherwise softmax(logits / T) restricted to the smallest set whose mass reaches top_p.</summary>
    private static int Pick(Tensor logits, SamplingOptions sampling, Generator? generator)
    {
        using var scope = NewDisposeScope();
        var last = logits.reshape(-1).to(ScalarType.Float32);
        if (sampling.Temperature <= 0)
        {
            return (int)last.argmax().item<long>();
        }

        var probabilities = (last / sampling.Temperature).softmax(0);
        if (sampling.TopP < 1)
        {
            var (sorted, order) = probabilities.sort(descending: true);
            var before = sorted.cumsum(0) - sorted;
            sorted = sorted.masked_fill(before >= sampling.TopP, 0);
            probabilities = zeros_like(probabilities).scatter_(0, order, sorted);
        }

        return (int)multinomial(probabilities, 1, generator: generator).item<long>();
    }
}
