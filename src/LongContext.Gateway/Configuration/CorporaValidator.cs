using LongContext.Routing.Tokens;
using Microsoft.Extensions.Options;

namespace LongContext.Gateway.Configuration;

internal sealed class CorporaValidator : IValidateOptions<GatewaySettings>
{
    public const string Embedded = "Embedded";
    public const string Qdrant = "Qdrant";
    public const string MiniLm = "MiniLm";
    public const string OpenAi = "OpenAI";

    public ValidateOptionsResult Validate(string? name, GatewaySettings options)
    {
        var c = options.Corpora;
        var failures = new List<string>();
        if (string.Equals(c.Store, Qdrant, StringComparison.OrdinalIgnoreCase))
        {
            if (!Uri.TryCreate(c.Qdrant.Address, UriKind.Absolute, out var address) || address.Scheme is not ("http" or "https"))
            {
                failures.Add("Corpora:Qdrant:Address must be Qdrant's absolute gRPC address (e.g. http://127.0.0.1:6334) when Corpora:Store is Qdrant.");
            }

            if (string.IsNullOrWhiteSpace(c.Qdrant.CollectionPrefix) || !c.Qdrant.CollectionPrefix.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-'))
            {
                failures.Add("Corpora:Qdrant:CollectionPrefix must be letters, digits, '_' or '-'.");
            }
        }
        else if (!string.Equals(c.Store, Embedded, StringComparison.OrdinalIgnoreCase))
        {
            failures.Add($"Corpora:Store '{c.Store}' is not a vector store; use {Embedded} or {Qdrant}.");
        }

        if (c.ExactSearchBelow < 0)
        {
            failures.Add("Corpora:ExactSearchBelow must not be negative.");
        }

        if (!TokenCounters.IsKnown(c.Tokenizer))
        {
            failures.Add($"Corpora:Tokenizer '{c.Tokenizer}' is not a known tokenizer; use {TokenCounters.O200kBase} or {TokenCounters.Cl100kBase}.");
        }

        if (c.OverlapTokens < 0 || c.OverlapTokens >= options.Routing.Rag.ChunkTokens)
        {
            failures.Add($"Corpora:OverlapTokens must be at least 0 and below Routing:Rag:ChunkTokens ({options.Routing.Rag.ChunkTokens}).");
        }

        if (c.MaxIngestBytes < 1)
        {
            failures.Add("Corpora:MaxIngestBytes must be positive.");
        }

        var e = c.Embeddings;
        if (e.BatchSize < 1)
        {
            failures.Add("Corpora:Embeddings:BatchSize must be at least 1.");
        }

        if (string.Equals(e.Provider, OpenAi, StringComparison.OrdinalIgnoreCase))
        {
            if (!Uri.TryCreate(e.Endpoint, UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("http" or "https"))
            {
                failures.Add("Corpora:Embeddings:Endpoint must be the absolute http(s) address of an OpenAI-compatible API when Provider is OpenAI.");
            }

            if (string.IsNullOrWhiteSpace(e.Model))
            {
                failures.Add("Corpora:Embeddings:Model is required when Provider is OpenAI.");
            }

            if (e.Dimensions is null or < 1)
            {
                failures.Add("Corpora:Embeddings:Dimensions is required when Provider is OpenAI (the length of the model's vectors).");
            }
        }
        else if (!string.Equals(e.Provider, MiniLm, StringComparison.OrdinalIgnoreCase))
        {
            failures.Add($"Corpora:Embeddings:Provider '{e.Provider}' is not an embedding provider; use {MiniLm} or {OpenAi}.");
        }

        var r = c.Retrieval;
        if (r.CandidatesPerMethod < 1 || r.FusionK < 1)
        {
            failures.Add("Corpora:Retrieval:CandidatesPerMethod and FusionK must be at least 1.");
        }

        if (r.MmrLambda is < 0 or > 1)
        {
            failures.Add("Corpora:Retrieval:MmrLambda must be in [0, 1].");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
