using System.ClientModel;
using LongContext.Gateway.Configuration;
using LongContext.Gateway.Hosting;
using LongContext.Rag.Chunking;
using LongContext.Rag.Corpora;
using LongContext.Rag.Embeddings;
using LongContext.Rag.Retrieval;
using LongContext.Rag.VectorStores;
using LongContext.Rag.VectorStores.Embedded;
using LongContext.Rag.VectorStores.Qdrant;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using OpenAI;

namespace LongContext.Gateway.Corpora;

/// <summary>The RAG pipeline as the gateway uses it: the vector store (opened at start), the embedding model, ingestion and retrieval.</summary>
internal sealed class CorpusServices : IAsyncDisposable
{
    private readonly GatewaySettings _settings;
    private IVectorStore? _store;

    public CorpusServices(IOptions<GatewaySettings> settings)
    {
        _settings = settings.Value;
        var corpora = _settings.Corpora;
        Embeddings = string.Equals(corpora.Embeddings.Provider, CorporaValidator.OpenAi, StringComparison.OrdinalIgnoreCase)
            ? new OpenAIClient(new ApiKeyCredential(corpora.Embeddings.ApiKey ?? "none"), new OpenAIClientOptions { Endpoint = new Uri(corpora.Embeddings.Endpoint!) })
                .GetEmbeddingClient(corpora.Embeddings.Model!)
                .AsIEmbeddingGenerator(corpora.Embeddings.Dimensions)
            : new MiniLmEmbeddingGenerator(corpora.Embeddings.BatchSize);
        Dimensions = corpora.Embeddings.Dimensions ?? MiniLmEmbeddingGenerator.Dimensions;
        Chunking = new ChunkingOptions { ChunkTokens = _settings.Routing.Rag.ChunkTokens, OverlapTokens = corpora.OverlapTokens };
        Retrieval = new RetrievalOptions
        {
            TopK = _settings.Routing.Rag.TopK,
            CandidatesPerMethod = corpora.Retrieval.CandidatesPerMethod,
            FusionK = corpora.Retrieval.FusionK,
            UseMmr = corpora.Retrieval.UseMmr,
            MmrLambda = corpora.Retrieval.MmrLambda,
        };
    }

    public IEmbeddingGenerator<string, Embedding<float>> Embeddings { get; }

    public int Dimensions { get; }

    public ChunkingOptions Chunking { get; }

    public RetrievalOptions Retrieval { get; }

    public string Tokenizer => _settings.Corpora.Tokenizer;

    public bool RepeatQuestion => _settings.Corpora.Retrieval.RepeatQuestion;

    public IVectorStore Store => _store ?? throw new InvalidOperationException("The vector store is opened when the gateway starts.");

    public string Location { get; private set; } = "";

    public CorpusIngestor Ingestor => new(Store, Embeddings, Chunking, _settings.Corpora.Embeddings.BatchSize);

    public HybridRetriever Retriever => new(Store, Embeddings, Retrieval);

    public async Task OpenAsync(string contentRoot, CancellationToken cancellationToken)
    {
        if (string.Equals(_settings.Corpora.Store, CorporaValidator.Qdrant, StringComparison.OrdinalIgnoreCase))
        {
            var qdrant = _settings.Corpora.Qdrant;
            try
            {
                _store = await QdrantVectorStore.OpenAsync(new QdrantStoreOptions { Address = new Uri(qdrant.Address!), ApiKey = qdrant.ApiKey, CollectionPrefix = qdrant.CollectionPrefix }, cancellationToken);
                Location = "Qdrant " + qdrant.Address;
                return;
            }
            catch (Grpc.Core.RpcException e)
            {
                throw new GatewayStartupException($"Corpora:Qdrant:Address: Qdrant at {qdrant.Address} cannot be used: {e.Status.Detail}");
            }
        }

        var directory = string.IsNullOrWhiteSpace(_settings.Corpora.Directory)
            ? DefaultDirectory(contentRoot)
            : Path.GetFullPath(_settings.Corpora.Directory, contentRoot);
        try
        {
            _store = await EmbeddedVectorStore.OpenAsync(new EmbeddedStoreOptions { Directory = directory, ExactSearchBelow = _settings.Corpora.ExactSearchBelow }, cancellationToken);
            Location = "embedded " + directory;
        }
        catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or IOException or UnauthorizedAccessException)
        {
            throw new GatewayStartupException($"Corpora:Directory: the embedded vector store in {directory} cannot be opened: {e.Message}");
        }
    }

    public ValueTask DisposeAsync()
    {
        (_store as IDisposable)?.Dispose();
        Embeddings.Dispose();
        return ValueTask.CompletedTask;
    }

    private static string DefaultDirectory(string contentRoot)
    {
        var data = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create);
        return string.IsNullOrEmpty(data) ? Path.Combine(contentRoot, "data", "corpora") : Path.Combine(data, "LongContext.Gateway", "corpora");
    }
}
