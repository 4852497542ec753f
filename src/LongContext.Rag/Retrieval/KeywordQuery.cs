using System.Text.RegularExpressions;

namespace LongContext.Rag.Retrieval;

/// <summary>
/// The words of a question that keyword search should look for: letters and digits runs (so
/// identifiers like QX-7731 keep their parts), lower-cased, without English function words,
/// which match every chunk and would drown the rare words that BM25 is there to find.
/// </summary>
public static partial class KeywordQuery
{
    private static readonly HashSet<string> StopWords = new(StringComparer.Ordinal)
    {
        "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been", "before", "being", "but", "by",
        "can", "could", "did", "do", "does", "doing", "during", "each", "for", "from", "get", "got", "had", "has", "have", "having",
        "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "me", "more", "most",
        "my", "no", "nor", "not", "of", "on", "once", "only", "or", "other", "our", "out", "over", "own", "same", "she", "should",
        "so", "some", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "through",
        "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom",
        "why", "will", "with", "would", "you", "your", "yours",
    };

    /// <summary>Every content word of a text, repeats kept (for term frequencies).</summary>
    public static IReadOnlyList<string> AllTerms(string text) =>
        [.. Words().Matches(text).Select(m => m.Value.ToLowerInvariant()).Where(w => !StopWords.Contains(w))];

    public static IReadOnlyList<string> Terms(string query) =>
        [.. Words().Matches(query).Select(m => m.Value.ToLowerInvariant()).Where(w => !StopWords.Contains(w)).Distinct()];

    [GeneratedRegex(@"[\p{L}\p{N}]+")]
    private static partial Regex Words();
}
