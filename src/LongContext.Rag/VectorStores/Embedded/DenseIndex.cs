using System.Numerics;
using Cloud.Unum.USearch;

namespace LongContext.Rag.VectorStores.Embedded;

/// <summary>A corpus's vectors in memory: searched exactly, or through an HNSW index when there is one.</summary>
internal sealed class DenseIndex(long[] keys, float[] vectors, int dimensions, USearchIndex? ann) : IDisposable
{
    public bool Approximate => ann is not null;

    public List<(long Key, double Score)> Search(ReadOnlySpan<float> query, int limit, int expansion)
    {
        limit = Math.Min(limit, keys.Length);
        if (limit <= 0)
        {
            return [];
        }

        if (ann is not null)
        {
            // Ask the graph for a few more than needed; the search breadth follows the index's expansion setting.
            var count = ann.Search(query.ToArray(), Math.Min(Math.Max(limit, expansion / 4), keys.Length), out ulong[] found, out float[] distances);
            return [.. Enumerable.Range(0, Math.Min(count, limit)).Select(i => ((long)found[i], 1.0 - distances[i]))];
        }

        return Exact(query, limit);
    }

    /// <summary>Every vector compared; unit-length vectors, so the dot product is the cosine.</summary>
    public List<(long Key, double Score)> Exact(ReadOnlySpan<float> query, int limit)
    {
        var best = new PriorityQueue<int, float>(limit + 1);
        for (var i = 0; i < keys.Length; i++)
        {
            var score = Dot(query, vectors.AsSpan(i * dimensions, dimensions));
            if (best.Count < limit)
            {
                best.Enqueue(i, score);
            }
            else if (best.TryPeek(out _, out var worst) && score > worst)
            {
                best.DequeueEnqueue(i, score);
            }
        }

        var result = new List<(long, double)>(best.Count);
        while (best.TryDequeue(out var i, out var score))
        {
            result.Add((keys[i], score));
        }

        result.Reverse();
        return result;
    }

    public void Dispose() => ann?.Dispose();

    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var sum = Vector<float>.Zero;
        var i = 0;
        for (; i <= a.Length - Vector<float>.Count; i += Vector<float>.Count)
        {
            sum += new Vector<float>(a[i..]) * new Vector<float>(b[i..]);
        }

        var total = Vector.Sum(sum);
        for (; i < a.Length; i++)
        {
            total += a[i] * b[i];
        }

        return total;
    }
}
