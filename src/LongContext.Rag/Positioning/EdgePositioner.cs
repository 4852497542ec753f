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
    public static IReadOnlyList<PositionedChunk<T>> Position<T>(IReadOnlyList<T> ranked, Func<T, int> tokens) =>
        Lay(AtTheEnds(ranked, []), tokens);

    /// <summary>
    /// The whole corpus for the long-context route: the <paramref name="key"/> chunks (best first)
    /// at the two ends, every other chunk in document order in the middle.
    /// </summary>
    public static IReadOnlyList<PositionedChunk<T>> PositionCorpus<T>(IReadOnlyList<T> corpusInOrder, IReadOnlyList<T> key, Func<T, int> tokens, IEqualityComparer<T>? comparer = null)
    {
        var keySet = new HashSet<T>(key, comparer ?? EqualityComparer<T>.Default);
        return Lay(AtTheEnds(key, [.. corpusInOrder.Where(c => !keySet.Contains(c))]), tokens);
    }

    /// <summary>Ranks 1, 3, 5, … from the front, 2, 4, 6, … from the back, the unranked (rank 0) in between.</summary>
    private static List<(T Chunk, int Rank)> AtTheEnds<T>(IReadOnlyList<T> ranked, IReadOnlyList<T> middle)
    {
        var front = new List<(T, int)>();
        var back = new List<(T, int)>();
        for (var i = 0; i < ranked.Count; i++)
        {
            (i % 2 == 0 ? front : back).Add((ranked[i], i + 1));
        }

        back.Reverse();
        return [.. front, .. middle.Select(c => (c, 0)), .. back];
    }

    /// <summary>Each chunk's depth: where its middle falls in the laid-out tokens, as needle-in-a-haystack tests measure depth.</summary>
    private static List<PositionedChunk<T>> Lay<T>(List<(T Chunk, int Rank)> ordered, Func<T, int> tokens)
    {
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
