using System.Text.Json.Nodes;
using LongContext.Gateway.Corpora;
using LongContext.Gateway.Proxy;
using LongContext.Gateway.Routing;
using LongContext.Routing.Decision;

namespace LongContext.Gateway.Api;

/// <summary>What an upstream is sent for a route: the context the route carries and the client's request around it.</summary>
internal sealed class UpstreamBodies(CorpusContextBuilder corpora, RoutingCatalog routing)
{
    /// <summary>
    /// The context a route sends: the RAG prompt of retrieved, positioned chunks (RAG), or the whole
    /// positioned corpus (long context), plus inline documents (indexed for the request under RAG);
    /// null when the request has no context.
    /// </summary>
    public async Task<string?> ContextAsync(ChatCompletionRequest request, RoutePlan plan, RouteKind route, CancellationToken cancellationToken)
    {
        var context = (plan.Corpus, route) switch
        {
            ({ } corpus, RouteKind.Rag) => corpus.RagPrompt,
            ({ } corpus, _) => await corpora.LongContextPromptAsync(corpus, cancellationToken),
            _ => null,
        };
        if (request.Documents.Count > 0)
        {
            var inline = route == RouteKind.Rag
                ? await corpora.InlineRagPromptAsync(request.Documents, request.LastUserText(), cancellationToken)
                : InlineContext.SystemMessage(request.Documents);
            context = context is null ? inline : context + "\n\n" + inline;
        }

        return context;
    }

    /// <summary>The body the upstream gets: the gateway's extension removed, the route's context placed, the output capped at what was reserved, usage asked for.</summary>
    public async Task<JsonObject> BuildAsync(ChatCompletionRequest request, RoutePlan plan, RouteKind route, ResolvedModel model, CancellationToken cancellationToken)
    {
        // A copy per attempt: a request routed again (or escalated) starts from what the client sent.
        var body = request.Body.DeepClone().AsObject();
        body.Remove(ChatCompletionRequest.ExtensionField);
        if (await ContextAsync(request, plan, route, cancellationToken) is { } context)
        {
            body["messages"]!.AsArray().Insert(0, new JsonObject { ["role"] = "system", ["content"] = context });
        }

        body.Remove("max_tokens");
        body.Remove("max_completion_tokens");
        body[model.MaxTokensField] = OutputCap(request);
        if (request.Stream)
        {
            var options = body["stream_options"] as JsonObject ?? [];
            options["include_usage"] = true;
            body["stream_options"] = options;
        }

        return body;
    }

    /// <summary>The output tokens reserved for the request: its own cap, else the configured default.</summary>
    public long OutputCap(ChatCompletionRequest request) => request.MaxOutputTokens ?? routing.Settings.DefaultMaxOutputTokens;
}
