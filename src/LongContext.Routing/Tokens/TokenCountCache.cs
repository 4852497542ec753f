using System.Collections.Concurrent;

namespace LongContext.Routing.Tokens;

/// <summary>
/// Token counts of corpus documents and chunks, keyed by a content identity the caller supplies
/// (corpus, document, content hash), so a corpus sent by reference is not re-tokenized per request.
/// Bounded: past its capacity it forgets everything and starts again, which costs one recount.
/// </summary>
public sealed class TokenCountCache(int capacity = 100_000)
{
    private readonly ConcurrentDictionary<(string Tokenizer, string Key), int> _counts = new();

    public int Count => _counts.Count;

    public int GetOrCount(ITokenCounter counter, string contentKey, string text)
    {
        var key = (counter.Name, contentKey);
        if (_counts.TryGetValue(key, out var count))
        {
            return count;
        }

        count = counter.Count(text);
        if (_counts.Count >= capacity)
        {
            _counts.Clear();
        }

        _counts[key] = count;
        return count;
    }
}
