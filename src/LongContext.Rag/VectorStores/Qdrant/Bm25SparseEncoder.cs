using System.Text;
using LongContext.Rag.Retrieval;

namespace LongContext.Rag.VectorStores.Qdrant;

/// <summary>
/// BM25 as Qdrant computes it with a sparse vector whose collection applies the IDF modifier:
/// documents carry each term's saturated frequency tf·(k1+1) / (tf + k1·(1 − b + b·len/avglen)),
/// queries carry 1 per term, and Qdrant multiplies in the IDF. Terms are hashed to 32-bit indices
/// (FNV-1a), the words are the same ones keyword search uses everywhere (stop words removed).
/// </summary>
public static class Bm25SparseEncoder
{
    /// <summary>BM25's usual constants (Robertson and Zaragoza 2009).</summary>
    public const double K1 = 1.2;

    public const double B = 0.75;

    /// <summary>Average chunk length in words assumed for length normalisation: 200-token chunks hold about 150 words.</summary>
    public const double AverageLength = 150;

    public static (float[] Values, uint[] Indices) Document(string text)
    {
        var words = KeywordQuery.AllTerms(text);
        var counts = words.GroupBy(w => w).ToDictionary(g => Index(g.Key), g => g.Count());
        var norm = K1 * (1 - B + B * words.Count / AverageLength);
        var ordered = counts.OrderBy(c => c.Key).ToList();
        return ([.. ordered.Select(c => (float)(c.Value * (K1 + 1) / (c.Value + norm)))], [.. ordered.Select(c => c.Key)]);
    }

    public static (float[] Values, uint[] Indices) Query(string query)
    {
        var indices = KeywordQuery.Terms(query).Select(Index).Distinct().Order().ToArray();
        return ([.. indices.Select(_ => 1f)], indices);
    }

    public static uint Index(string term)
    {
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(term))
        {
            hash = (hash ^ b) * 16777619u;
        }

        return hash;
    }
}
