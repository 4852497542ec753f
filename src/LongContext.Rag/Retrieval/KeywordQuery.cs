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

    /// <summary>
    /// The identifiers a question names: joined runs of letters and digits with at least one digit
    /// (vault-12-3, INV-2024-0071, v2.1) and single words that mix letters and digits (QX7731).
    /// Plain numbers and words are not identifiers.
    /// </summary>
    public static IReadOnlyList<string> Identifiers(string query) =>
        [.. Candidates().Matches(query).Select(m => m.Value.TrimEnd('.', ':', '/'))
            .Where(v => v.Any(char.IsDigit) && (v.Any(char.IsLetter) || v.Any(c => !char.IsLetterOrDigit(c))))
            .Distinct(StringComparer.OrdinalIgnoreCase)];

    /// <summary>Whether a text holds one of the identifiers whole (not as part of a longer one: vault-1 is not in vault-10), ignoring case.</summary>
    public static bool ContainsAny(string text, IReadOnlyList<string> identifiers)
    {
        foreach (var identifier in identifiers)
        {
            for (var at = text.IndexOf(identifier, StringComparison.OrdinalIgnoreCase); at >= 0; at = text.IndexOf(identifier, at + 1, StringComparison.OrdinalIgnoreCase))
            {
                var end = at + identifier.Length;
                if ((at == 0 || !char.IsLetterOrDigit(text[at - 1])) && (end == text.Length || !IsIdentifierContinuation(text, end)))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>A letter or digit continues an identifier, and so does a joiner followed by one (vault-1-2 goes on past vault-1); a full stop ending a sentence does not.</summary>
    private static bool IsIdentifierContinuation(string text, int at) =>
        char.IsLetterOrDigit(text[at]) || (text[at] is '-' or '_' or '.' or '/' or ':' && at + 1 < text.Length && char.IsLetterOrDigit(text[at + 1]));

    [GeneratedRegex(@"[\p{L}\p{N}]+")]
    private static partial Regex Words();

    [GeneratedRegex(@"[\p{L}\p{N}]+(?:[-_./:][\p{L}\p{N}]+)*")]
    private static partial Regex Candidates();
}
