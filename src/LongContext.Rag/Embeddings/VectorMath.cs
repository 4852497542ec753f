namespace LongContext.Rag.Embeddings;

/// <summary>Vectors are stored and compared at unit length, so a dot product is the cosine whatever model produced them.</summary>
public static class VectorMath
{
    public static ReadOnlyMemory<float> Normalize(ReadOnlyMemory<float> vector)
    {
        var span = vector.Span;
        double sum = 0;
        foreach (var x in span)
        {
            sum += x * x;
        }

        if (sum == 0 || Math.Abs(sum - 1) < 1e-6)
        {
            return vector;
        }

        var norm = (float)Math.Sqrt(sum);
        var result = new float[span.Length];
        for (var i = 0; i < span.Length; i++)
        {
            result[i] = span[i] / norm;
        }

        return result;
    }
}
