using System.Collections.Concurrent;
using Microsoft.ML.Tokenizers;

namespace LongContext.Routing.Tokens;

/// <summary>Counts the tokens a model family's tokenizer would produce for a text.</summary>
public interface ITokenCounter
{
    /// <summary>The tokenizer's name as config spells it (o200k_base, cl100k_base, …).</summary>
    string Name { get; }

    /// <summary>True when counts are an estimate, not the model's own tokenizer; decisions say so.</summary>
    bool IsApproximation { get; }

    int Count(string text);
}

/// <summary>The tokenizers routing knows, by name; any other name gets the declared approximation.</summary>
public sealed class TokenCounters
{
    public const string O200kBase = "o200k_base";
    public const string Cl100kBase = "cl100k_base";

    /// <summary>One token per UTF-8 byte: the vocabulary of the project's reference model.</summary>
    public const string Bytes = "bytes";

    private readonly ConcurrentDictionary<string, ITokenCounter> _counters = new(StringComparer.OrdinalIgnoreCase);

    public static TokenCounters Shared { get; } = new();

    public static bool IsKnown(string? name) =>
        string.Equals(name, O200kBase, StringComparison.OrdinalIgnoreCase) || string.Equals(name, Cl100kBase, StringComparison.OrdinalIgnoreCase) || string.Equals(name, Bytes, StringComparison.OrdinalIgnoreCase);

    /// <summary>The tokenizer's data ships inside its NuGet package; it is loaded once, on first use.</summary>
    public ITokenCounter Get(string? name) =>
        string.Equals(name, Bytes, StringComparison.OrdinalIgnoreCase) ? _counters.GetOrAdd(Bytes, static _ => new ByteCounter())
        : IsKnown(name) ? _counters.GetOrAdd(name!, static n => new TiktokenCounter(n.ToLowerInvariant()))
        : _counters.GetOrAdd(ApproximateTokenCounter.Label(name), static _ => new ApproximateTokenCounter());
}

internal sealed class TiktokenCounter(string encoding) : ITokenCounter
{
    private readonly TiktokenTokenizer _tokenizer = TiktokenTokenizer.CreateForEncoding(encoding);

    public string Name => encoding;

    public bool IsApproximation => false;

    public int Count(string text) => text.Length == 0 ? 0 : _tokenizer.CountTokens(text, considerPreTokenization: true, considerNormalization: false);
}

/// <summary>Byte-level vocabularies: a token per UTF-8 byte (the model adds its begin token itself).</summary>
internal sealed class ByteCounter : ITokenCounter
{
    public string Name => TokenCounters.Bytes;

    public bool IsApproximation => false;

    public int Count(string text) => System.Text.Encoding.UTF8.GetByteCount(text);
}

/// <summary>
/// For model families whose tokenizer is not available: about four characters per token, the
/// usual rule of thumb for English under BPE tokenizers (OpenAI's tokenizer guide); it
/// overestimates slightly for code-free prose, which errs towards the cautious route.
/// </summary>
internal sealed class ApproximateTokenCounter : ITokenCounter
{
    public const double CharactersPerToken = 4.0;

    public string Name => "approx-4-chars";

    public bool IsApproximation => true;

    public static string Label(string? requested) => "approx:" + (requested ?? "");

    public int Count(string text) => (int)Math.Ceiling(text.Length / CharactersPerToken);
}
