using LongContext.Gateway.Api;
using LongContext.Gateway.Configuration;
using LongContext.Gateway.Proxy;
using LongContext.Gateway.Tenancy;
using LongContext.Routing.Catalog;
using LongContext.Routing.Decision;
using LongContext.Routing.Policies;
using LongContext.Routing.Tokens;

namespace LongContext.Gateway.Routing;

/// <summary>A routing decision together with what it was made from and the upstream model it chose.</summary>
internal sealed record RoutePlan(RouteDecision Decision, RoutingRequest Request, ResolvedModel? Chosen)
{
    /// <summary>The corpus the request named, with what retrieval found; null for inline context.</summary>
    public Corpora.CorpusContext? Corpus { get; init; }

    /// <summary>The learned escalation probability the hybrid candidate was priced with (named corpora only).</summary>
    public EscalationEstimate? Escalation { get; init; }

    /// <summary>The tenant's budget the decision was made against.</summary>
    public BudgetState Budget { get; init; } = BudgetState.Unlimited;
}

/// <summary>
/// Turns a parsed chat request into a routing decision: which models are candidates (the one
/// named, or every model the tenant may use when it names the auto model), measured tokens, the
/// tenant's policy and budget. The decision itself is the pure core's.
/// </summary>
internal sealed class ChatRouter(RoutingCatalog routing, ModelCatalog models, RequestMeasurer measurer)
{
    /// <summary>Routes the gateway carries out for any request; hybrid (self-route) rebuilds the conversation, so it needs a plain one.</summary>
    private static readonly RouteKind[] Executable = [RouteKind.Rag, RouteKind.LongContext];

    private static readonly RouteKind[] ExecutableWithHybrid = [RouteKind.Rag, RouteKind.LongContext, RouteKind.Hybrid];

    public ITokenCounter CounterFor(Tenant tenant, ChatCompletionRequest request) =>
        routing.CounterFor(routing.IsAuto(request.Model) ? null : models.Find(tenant, request.Model)?.Alias);

    /// <summary>
    /// Decides the request's route. <paramref name="refused"/> names candidates already tried whose
    /// upstreams refused the request as too large, with their reasons: they are ruled out.
    /// </summary>
    public (RoutePlan? Plan, OpenAiErrorResult? Error) Plan(
        Tenant tenant,
        ChatCompletionRequest request,
        RouteKind? forced,
        BudgetState budget,
        Corpora.CorpusContext? corpus = null,
        IReadOnlyDictionary<string, string>? refused = null,
        EscalationEstimate? escalation = null)
    {
        List<ModelProfile> profiles;
        string? measuredFor;
        if (routing.IsAuto(request.Model))
        {
            profiles = [.. models.VisibleTo(tenant).Where(m => m.Kind == ModelKind.Chat && routing.Profiles.ContainsKey(m.Alias)).Select(m => routing.Profiles[m.Alias])];
            measuredFor = null;
        }
        else
        {
            var model = models.Find(tenant, request.Model);
            if (model is null)
            {
                return (null, OpenAiErrors.ModelNotFound(request.Model));
            }

            if (model.Kind != ModelKind.Chat || !routing.Profiles.TryGetValue(model.Alias, out var profile))
            {
                return (null, OpenAiErrors.WrongModelKind(request.Model, "a chat"));
            }

            profiles = [profile];
            measuredFor = model.Alias;
        }

        var counter = routing.CounterFor(measuredFor);
        var (question, context) = measurer.Measure(request, counter);
        var inlineTokens = context;
        if (corpus is not null)
        {
            context += corpus.Corpus.TokenCount;
        }

        var output = (request.MaxOutputTokens ?? routing.Settings.DefaultMaxOutputTokens) * Math.Max(request.Choices, 1);
        var routingRequest = new RoutingRequest
        {
            QuestionTokens = question,
            ContextTokens = context,
            ExpectedOutputTokens = output,
            ForcedRoute = forced,
            // A named corpus is indexed; inline documents are indexed for the request if RAG wins.
            RetrievalAvailable = corpus is not null || request.Documents.Count > 0,
            RagContextTokens = corpus?.RagPromptTokens,
            TokensToIndex = inlineTokens,
            RagKeyDepth = corpus?.RagKeyDepth,
            LongContextKeyDepth = corpus?.LongContextKeyDepth,
            ExecutableRoutes = request.IsPlainConversation() ? ExecutableWithHybrid : Executable,
            Escalation = escalation,
            RefusedCandidates = refused,
            CountsApproximate = counter.IsApproximation || profiles.Any(p => !string.Equals(p.Tokenizer, counter.Name, StringComparison.OrdinalIgnoreCase)),
        };

        var decision = new RouteDecider(profiles, routing.Rag).Decide(routingRequest, routing.PolicyOf(tenant), budget);
        var chosen = decision.Chosen is { } candidate ? models.Find(tenant, candidate.Model) : null;
        return (new RoutePlan(decision, routingRequest, chosen) { Corpus = corpus, Budget = budget, Escalation = escalation }, null);
    }
}
