namespace LongContext.Rag.Positioning;

/// <summary>A chunk in its place in the prompt and the depth it lands at (0 = start of the context, 1 = end).</summary>
public sealed record PositionedChunk<T>(T Chunk, int Rank, double Depth);

/// <summary>
/// Lost-in-the-middle positioning (Liu et al. 2023): models recall the start and the end of a
/// context best, so the most relevant chunks go to the two ends and the least relevant to the
/// middle: ranks 1, 3, 5, … from the front, 2, 4, 6, … from the back.
/// </summary>
public static class EdgePositioner
{
    /// <param name="ranked">Best first.</param>
    /// <param name="tokens">Each chunk's length, to report depths by tokens rather than by count.</param>
    public static IReadOnlyList<PositionedChunk<T>> Position<T>(IReadOnlyList<T> ranked, Func<T, int> tokens)
    {
        var front = new List<(T, int)>();
        var back = new List<(T, int)>();
        for (var i = 0; i < ranked.Count; i++)
        {
            (i % 2 == 0 ? front : back).Add((ranked[i], i + 1));
        }

        back.Reverse();
        var ordered = front.Concat(back).ToList();
        var total = Math.Max(1, ordered.Sum(c => (long)tokens(c.Item1)));
        var result = new List<PositionedChunk<T>>(ordered.Count);
        long offset = 0;
        foreach (var (chunk, rank) in ordered)
        {
            var length = tokens(chunk);
            // Depth of the chunk's middle, as needle-in-a-haystack tests measure depth.
            result.Add(new PositionedChunk<T>(chunk, rank, (offset + length / 2.0) / total));
            offset += length;
        }

        return result;
    }

    /// <summary>
    /// The whole corpus for the long-context route: the <paramref name="key"/> chunks (best first)
    /// at the two ends, every other chunk in document order in the middle.
    /// </summary>
    public static IReadOnlyList<PositionedChunk<T>> PositionCorpus<T>(IReadOnlyList<T> corpusInOrder, IReadOnlyList<T> key, Func<T, int> tokens, IEqualityComparer<T>? comparer = null)
    {
        comparer ??= EqualityComparer<T>.Default;
        var keySet = new HashSet<T>(key, comparer);
        var front = new List<(T Chunk, int Rank)>();
        var back = new List<(T Chunk, int Rank)>();
        for (var i = 0; i < key.Count; i++)
        {
            (i % 2 == 0 ? front : back).Add((key[i], i + 1));
        }

        back.Reverse();
        var middle = corpusInOrder.Where(c => !keySet.Contains(c)).Select(c => (Chunk: c, Rank: 0));
        var ordered = front.Concat(middle).Concat(back).ToList();
        var total = Math.Max(1, ordered.Sum(c => (long)tokens(c.Chunk)));
        var result = new List<PositionedChunk<T>>(ordered.Count);
        long offset = 0;
        foreach (var (chunk, rank) in ordered)
        {
            var length = tokens(chunk);
            result.Add(new PositionedChunk<T>(chunk, rank, (offset + length / 2.0) / total));
            offset += length;
        }

        return result;
    }
}
