using System.Globalization;
using System.Text.Json;
using LongContext.Gateway.Accounting;
using LongContext.Gateway.Corpora;
using LongContext.Gateway.Proxy;
using LongContext.Gateway.Routing;
using LongContext.Gateway.Tenancy;
using LongContext.Ledger.Decisions;
using LongContext.Ledger.Spend;
using LongContext.Routing.Decision;
using LongContext.Routing.Policies;

namespace LongContext.Gateway.Api;

/// <summary>
/// One chat request end to end: decide, reserve the worst case, forward, settle the real cost
/// from the upstream's usage (or release on failure), log the decision. The reservation is
/// always settled: nothing stays held past the request unless the gateway itself dies, and then
/// the reservation expires.
/// </summary>
internal sealed partial class RoutedChat(
    ChatRouter router,
    CorpusContextBuilder corpora,
    RoutingCatalog routing,
    LedgerStore ledger,
    UpstreamForwarder forwarder,
    ModelCatalog models,
    TenantRateLimiter rateLimits,
    UpstreamBodies bodies,
    SelfRoute.HybridExecutor hybrid,
    SelfRoute.EscalationRates escalations,
    Telemetry.GatewayTelemetry telemetry,
    BudgetHints budgetHints,
    TimeProvider time,
    ILogger<RoutedChat> logger)
{
    public async Task<(RoutePlan? Plan, OpenAiErrorResult? Error)> DecideAsync(HttpContext context, ChatCompletionRequest request)
    {
        var (forced, forcedError) = ForcedRoute(context, request);
        if (forcedError is not null)
        {
            return (null, forcedError);
        }

        var tenant = context.GetTenant();
        var limits = routing.LimitsOf(tenant);
        var budget = BudgetState.Unlimited;
        var hinted = false;
        if (limits != BudgetLimits.None)
        {
            var usage = budgetHints.Recent(tenant.Id);
            hinted = usage is not null;
            usage ??= await ledger.Spend.GetUsageAsync(tenant.Id, time.GetUtcNow(), context.RequestAborted);
            budget = new BudgetState(usage.MonthlyRemaining(limits), usage.DailyRemaining(limits));
        }

        var (corpusId, corpusError) = CorpusId(context, request);
        if (corpusError is not null)
        {
            return (null, corpusError);
        }

        CorpusContext? corpus = null;
        if (corpusId is not null)
        {
            corpus = await corpora.BuildAsync(tenant.Id, corpusId, request.LastUserText(), router.CounterFor(tenant, request), context.RequestAborted);
            if (corpus is null)
            {
                return (null, new OpenAiErrorResult(StatusCodes.Status404NotFound, new($"No vector store found with id '{corpusId}'.", "invalid_request_error", "lcg.corpus", "not_found")));
            }
        }

        var escalation = corpusId is null ? null : await escalations.EstimateAsync(tenant.Id, corpusId, context.RequestAborted);
        using var span = Telemetry.GatewayTelemetry.Source.StartActivity("decide");
        var started = time.GetTimestamp();
        var planned = router.Plan(tenant, request, forced, budget, corpus, escalation: escalation);
        if (hinted && planned.Plan is { } hintedPlan && budget.Remaining is { } left && hintedPlan.Decision.Candidates.Any(v => v.Candidate.WorstCaseCostUsd > left))
        {
            // The hint could have ruled a candidate out: decide on the ledger's own numbers.
            var usage = await ledger.Spend.GetUsageAsync(tenant.Id, time.GetUtcNow(), context.RequestAborted);
            budget = new BudgetState(usage.MonthlyRemaining(limits), usage.DailyRemaining(limits));
            planned = router.Plan(tenant, request, forced, budget, corpus, escalation: escalation);
        }

        telemetry.Decided(time.GetElapsedTime(started));
        span?.SetTag("lcg.route", planned.Plan?.Decision.Chosen is { } chosen ? RouteNames.Of(chosen.Route) : null);
        span?.SetTag("lcg.candidate", planned.Plan?.Decision.Chosen?.Id);
        return planned;
    }

    private static (string? Id, OpenAiErrorResult? Error) CorpusId(HttpContext context, ChatCompletionRequest request)
    {
        var header = context.Request.Headers[GatewayHeaders.Corpus].ToString();
        var fromHeader = string.IsNullOrWhiteSpace(header) ? null : header.Trim();
        return fromHeader is not null && request.Corpus is not null && fromHeader != request.Corpus
            ? (null, OpenAiErrors.InvalidValue("lcg.corpus", $"names {request.Corpus} but the {GatewayHeaders.Corpus} header names {fromHeader}."))
            : (fromHeader ?? request.Corpus, null);
    }

    public async Task<IResult> HandleAsync(HttpContext context, ChatCompletionRequest request)
    {
        var (plan, error) = await DecideAsync(context, request);
        if (error is not null)
        {
            return error;
        }

        // A candidate whose upstream refuses the request as too large for it (KV cache, context
        // window), or whose upstream is down (unreachable or failing after its retries, circuit
        // open), is ruled out and the request decided again, at most this many times: the fallback
        // (long context down → RAG). The last attempt's failure goes to the client as it came.
        var refused = new Dictionary<string, string>(StringComparer.Ordinal);
        var current = plan!;
        while (true)
        {
            var (result, reroute) = await AttemptAsync(context, request, current, refused, mayReroute: refused.Count < MaxReroutes);
            if (reroute is null)
            {
                return result;
            }

            if (reroute.Next is { } fallback)
            {
                current = fallback;
                continue;
            }

            refused[current.Decision.Chosen!.Id] = reroute.Reason;
            var (next, nextError) = router.Plan(context.GetTenant(), request, current.Request.ForcedRoute, current.Budget, current.Corpus, refused, current.Escalation);
            if (next is null)
            {
                return nextError!;
            }

            current = next;
        }
    }

    private const int MaxReroutes = 3;

    /// <summary>Why an attempt was given up for another route; for an upstream that is down, the route already found to take it.</summary>
    private sealed record Reroute(string Reason, RoutePlan? Next = null);

    /// <summary>
    /// The plan with every candidate of a failed upstream ruled out (each would fail the same way),
    /// added to <paramref name="refused"/>; null, and <paramref name="refused"/> unchanged, when no
    /// other candidate can take the request.
    /// </summary>
    private RoutePlan? PlanWithout(HttpContext context, ChatCompletionRequest request, RoutePlan failed, Dictionary<string, string> refused, string reason)
    {
        var tenant = context.GetTenant();
        var cluster = failed.Chosen!.Cluster.Name;
        var excluded = new Dictionary<string, string>(refused, StringComparer.Ordinal) { [failed.Decision.Chosen!.Id] = reason };
        bool OnCluster(string? model) => model is not null && models.Find(tenant, model)?.Cluster.Name == cluster;
        foreach (var verdict in failed.Decision.Candidates.Where(v => OnCluster(v.Candidate.Model) || OnCluster(v.Candidate.EscalationModel)))
        {
            excluded.TryAdd(verdict.Candidate.Id, reason);
        }

        var (next, _) = router.Plan(tenant, request, failed.Request.ForcedRoute, failed.Budget, failed.Corpus, excluded, failed.Escalation);
        if (next is not { Decision.Outcome: DecisionOutcome.Routed })
        {
            return null;
        }

        foreach (var (id, why) in excluded)
        {
            refused[id] = why;
        }

        return next;
    }

    /// <summary>
    /// One decided attempt: refuse, or reserve, forward, settle and log. Returns the refusal instead
    /// of a result when the upstream refused the request as too large, or was down, and that was
    /// held back (then the reservation is released and the attempt logged as rerouted).
    /// </summary>
    private async Task<(IResult Result, Reroute? Reroute)> AttemptAsync(HttpContext context, ChatCompletionRequest request, RoutePlan plan, Dictionary<string, string> refused, bool mayReroute)
    {
        var tenant = context.GetTenant();
        var now = time.GetUtcNow();
        var decisionId = Guid.CreateVersion7(now);
        var decision = plan.Decision;
        var headers = ResponseHeaders(plan, decisionId);
        if (refused.Count > 0)
        {
            headers[GatewayHeaders.ReroutedFrom] = string.Join(",", refused.Keys);
        }

        if (decision.Outcome != DecisionOutcome.Routed || plan.Chosen is null)
        {
            await RecordAsync(plan, decisionId, tenant, now, DecisionStatuses.Refused, reservation: null, usage: null, actual: null, note: null);
            GatewayHeaders.Apply(context.Response, headers);
            return (decision.Outcome == DecisionOutcome.OverBudget
                ? OpenAiErrors.BudgetExceeded($"The tenant's budget cannot cover this request: {decision.Explanation}{RemainingText(decision.BudgetRemainingUsd)}")
                : OpenAiErrors.NoFeasibleRoute(decision.Explanation), null);
        }

        var chosen = decision.Chosen!;
        if (refused.Count == 0 && rateLimits.AdmitTokens(tenant.Id, chosen.PromptTokens + chosen.OutputTokens) is { Allowed: false } limited)
        {
            await RecordAsync(plan, decisionId, tenant, now, DecisionStatuses.Refused, reservation: null, usage: null, actual: null, note: $"rate limited: {limited.Reason}");
            GatewayHeaders.Apply(context.Response, headers);
            return (OpenAiErrors.RateLimited(limited.Reason!, limited.RetryAfter), null);
        }

        // Built before anything is reserved: if preparing the prompt fails (an embedding service down), nothing is held.
        var body = await bodies.BuildAsync(request, plan, chosen.Route, plan.Chosen, context.RequestAborted);
        var reservation = await ledger.Spend.ReserveAsync(
            new ReservationRequest(tenant.Id, chosen.WorstCaseCostUsd, routing.LimitsOf(tenant), now, routing.Settings.ReservationTimeToLive),
            context.RequestAborted);
        budgetHints.Remember(tenant.Id, reservation.Usage);
        if (!reservation.Granted)
        {
            // Another request took the budget between the decision and the reservation.
            await RecordAsync(plan, decisionId, tenant, now, DecisionStatuses.Refused, reservation: null, usage: null, actual: null, note: "the reservation was refused: concurrent requests used the budget first");
            GatewayHeaders.Apply(context.Response, headers);
            var remaining = new BudgetState(reservation.MonthlyRemainingUsd, reservation.DailyRemainingUsd).Remaining;
            return (OpenAiErrors.BudgetExceeded($"The tenant's budget cannot cover this request: it may cost up to ${chosen.WorstCaseCostUsd.ToString("0.######", CultureInfo.InvariantCulture)}{RemainingText(remaining)}"), null);
        }

        var reservationId = reservation.ReservationId!.Value;
        telemetry.ReservationOpened(tenant.Id);
        var upstreamHeaders = chosen.Attention is { } attention
            ? new Dictionary<string, string> { [GatewayHeaders.Attention] = attention }
            : null;

        // An exception mid-request settles at the end: the worst case if any answer went out (the
        // upstream was paid), nothing otherwise.
        await using var metered = new MeteredResponse(context.Response, dropUsageOnlyChunk: request.Stream && !request.IncludeUsage, chosen.WorstCaseCostUsd, actual => SettleAsync(tenant.Id, reservationId, actual));
        var meter = metered.Meter;
        var forwardStarted = time.GetTimestamp();
        if (chosen.Route == RouteKind.Hybrid)
        {
            SelfRoute.HybridOutcome executed;
            using (var forwardSpan = Telemetry.GatewayTelemetry.Source.StartActivity("forward"))
            {
                forwardSpan?.SetTag("lcg.route", "hybrid");
                executed = await hybrid.ExecuteAsync(context, request, plan, meter, headers);
                forwardSpan?.SetTag("lcg.escalated", executed.Escalated);
            }

            telemetry.Answered(chosen.Model, RouteNames.Of(chosen.Route), time.GetElapsedTime(forwardStarted));
            using var settleSpan = Telemetry.GatewayTelemetry.Source.StartActivity("settle");
            await SettleAndRecordAsync(plan, decisionId, tenant, now, executed.Status, reservationId, executed.Usage, executed.ActualUsd, executed.Note, executed);
            metered.MarkSettled();
            if (executed.Escalated is { } escalated && plan.Corpus is { } corpus)
            {
                escalations.Observe(tenant.Id, corpus.Corpus.Id, escalated);
            }

            return (Results.Empty, null);
        }

        ForwardResult forwarded;
        using (var forwardSpan = Telemetry.GatewayTelemetry.Source.StartActivity("forward"))
        {
            forwardSpan?.SetTag("lcg.model", chosen.Model);
            forwarded = await forwarder.ForwardAsync(context, plan.Chosen, "chat/completions", body, upstreamHeaders, headers, holdBackTooLarge: mayReroute, holdBackFailures: mayReroute);
            forwardSpan?.SetTag("http.response.status_code", context.Response.StatusCode);
        }

        var (outcome, refusal, failure, failureError) = forwarded;
        if (outcome == ForwardOutcome.RefusedAsTooLarge)
        {
            await SettleAsync(tenant.Id, reservationId, actual: null);
            metered.MarkSettled();
            await RecordAsync(plan, decisionId, tenant, now, DecisionStatuses.Rerouted, reservationId, usage: null, actual: null, note: $"the upstream refused it as too large ({refusal}); the reservation was released and the request routed again");
            return (Results.Empty, new Reroute(refusal!));
        }

        if (outcome == ForwardOutcome.Unavailable)
        {
            // The fallback: the upstream is down, so the request goes to the best route that does not need it.
            await SettleAsync(tenant.Id, reservationId, actual: null);
            metered.MarkSettled();
            if (PlanWithout(context, request, plan, refused, failure!) is { } fallback)
            {
                await RecordAsync(plan, decisionId, tenant, now, DecisionStatuses.Rerouted, reservationId, usage: null, actual: null, note: $"{failure}; the reservation was released and the request fell back to {fallback.Decision.Chosen!.Id}");
                return (Results.Empty, new Reroute(failure!, fallback));
            }

            await RecordAsync(plan, decisionId, tenant, now, DecisionStatuses.Failed, reservationId, usage: null, actual: null, note: $"{failure}; no other route could take the request; the reservation was released");
            GatewayHeaders.Apply(context.Response, headers);
            await failureError!.ExecuteAsync(context);
            return (Results.Empty, null);
        }

        await meter.CompleteAsync(CancellationToken.None).ConfigureAwait(false);
        telemetry.Answered(chosen.Model, RouteNames.Of(chosen.Route), time.GetElapsedTime(forwardStarted));
        using var settle = Telemetry.GatewayTelemetry.Source.StartActivity("settle");
        var succeeded = outcome == ForwardOutcome.Answered && context.Response.StatusCode is >= 200 and < 300;
        var spent = succeeded || outcome is ForwardOutcome.ClientGone or ForwardOutcome.BrokenMidAnswer;
        var (status, actual, note) = (outcome, spent) switch
        {
            (_, false) => (DecisionStatuses.Failed, (decimal?)null, $"upstream {(outcome == ForwardOutcome.Answered ? "answered HTTP " + context.Response.StatusCode : "was unreachable")}; the reservation was released"),
            _ when meter.Usage is { } usage => (succeeded ? DecisionStatuses.Completed : DecisionStatuses.Cancelled, ActualCost(chosen.Model, usage), (string?)null),
            _ => (succeeded ? DecisionStatuses.Completed : DecisionStatuses.Cancelled, chosen.WorstCaseCostUsd, "the upstream reported no usage; the reservation was committed as spent"),
        };

        await SettleAndRecordAsync(plan, decisionId, tenant, now, status, reservationId, meter.Usage, actual, note);
        metered.MarkSettled();

        return (Results.Empty, null);
    }

    /// <summary>Commits what was spent, or releases the reservation when nothing was.</summary>
    private async Task SettleAsync(string tenant, Guid reservationId, decimal? actual)
    {
        await (actual is { } cost
            ? ledger.Spend.CommitAsync(reservationId, cost, CancellationToken.None)
            : ledger.Spend.ReleaseAsync(reservationId, CancellationToken.None));
        telemetry.ReservationSettled(tenant);
    }

    private decimal ActualCost(string model, UpstreamUsage usage) =>
        routing.Profiles[model].Prices.Cost(usage.PromptTokens, usage.CachedPromptTokens, usage.CompletionTokens);

    private static (RouteKind? Route, OpenAiErrorResult? Error) ForcedRoute(HttpContext context, ChatCompletionRequest request)
    {
        var header = context.Request.Headers[GatewayHeaders.Route].ToString();
        var (fromHeader, headerError) = ParseRoute(string.IsNullOrEmpty(header) ? null : header, GatewayHeaders.Route);
        var (fromBody, bodyError) = ParseRoute(request.RouteOverride, "lcg.route");
        if (headerError is not null || bodyError is not null)
        {
            return (null, headerError ?? bodyError);
        }

        return fromHeader is not null && fromBody is not null && fromHeader != fromBody
            ? (null, OpenAiErrors.InvalidValue("lcg.route", $"asks for {RouteNames.Of(fromBody.Value)} but the {GatewayHeaders.Route} header asks for {RouteNames.Of(fromHeader.Value)}."))
            : (fromHeader ?? fromBody, null);
    }

    private static (RouteKind? Route, OpenAiErrorResult? Error) ParseRoute(string? value, string param)
    {
        if (value is null || string.Equals(value.Trim(), "auto", StringComparison.OrdinalIgnoreCase))
        {
            return (null, null);
        }

        return RouteNames.TryParse(value, out var route)
            ? (route, null)
            : (null, OpenAiErrors.InvalidValue(param, $"'{value}' is not a route; use auto, {RouteNames.Rag}, {RouteNames.LongContext} or {RouteNames.Hybrid}."));
    }

    private static Dictionary<string, string> ResponseHeaders(RoutePlan plan, Guid decisionId)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { [GatewayHeaders.DecisionId] = decisionId.ToString() };
        if (plan.Decision.Chosen is { } chosen)
        {
            headers[GatewayHeaders.Route] = RouteNames.Of(chosen.Route);
            headers[GatewayHeaders.Candidate] = chosen.Id;
            headers[GatewayHeaders.EstimatedCost] = chosen.ExpectedCostUsd.ToString("0.#########", CultureInfo.InvariantCulture);
            headers[GatewayHeaders.ExpectedRecall] = chosen.ExpectedRecall.ToString("0.####", CultureInfo.InvariantCulture);
        }

        if (plan.Decision.BudgetRemainingUsd is { } remaining)
        {
            headers[GatewayHeaders.BudgetRemaining] = Math.Max(remaining, 0).ToString("0.######", CultureInfo.InvariantCulture);
        }

        return headers;
    }

    private static string RemainingText(decimal? remaining) =>
        remaining is { } r ? $" Remaining budget: ${Math.Max(r, 0).ToString("0.#########", CultureInfo.InvariantCulture)}." : "";

    private async Task RecordAsync(RoutePlan plan, Guid decisionId, Tenant tenant, DateTimeOffset now, string status, Guid? reservation, UpstreamUsage? usage, decimal? actual, string? note, SelfRoute.HybridOutcome? hybridOutcome = null)
    {
        var record = Record(plan, decisionId, tenant, now, status, reservation, usage, actual, note, hybridOutcome);
        try
        {
            await ledger.Decisions.RecordAsync(record, CancellationToken.None);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The spend is already settled; a lost log row must not fail the client's answered request.
            LogRecordFailed(logger, decisionId, e.Message);
        }
    }

    /// <summary>
    /// The end of a forwarded request: its reservation settled and its decision row written in one
    /// ledger transaction. If that write fails, the settlement alone is tried again (the row is
    /// lost and logged; the spend is not).
    /// </summary>
    private async Task SettleAndRecordAsync(RoutePlan plan, Guid decisionId, Tenant tenant, DateTimeOffset now, string status, Guid reservation, UpstreamUsage? usage, decimal? actual, string? note, SelfRoute.HybridOutcome? hybridOutcome = null)
    {
        var record = Record(plan, decisionId, tenant, now, status, reservation, usage, actual, note, hybridOutcome);
        try
        {
            await ledger.Decisions.SettleAndRecordAsync(reservation, actual, record, CancellationToken.None);
            telemetry.ReservationSettled(tenant.Id);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogRecordFailed(logger, decisionId, e.Message);
            await SettleAsync(tenant.Id, reservation, actual);
        }
    }

    private DecisionRecord Record(RoutePlan plan, Guid decisionId, Tenant tenant, DateTimeOffset now, string status, Guid? reservation, UpstreamUsage? usage, decimal? actual, string? note, SelfRoute.HybridOutcome? hybridOutcome)
    {
        var decision = plan.Decision;
        var chosen = decision.Chosen;
        var record = new DecisionRecord
        {
            Id = decisionId,
            TenantId = tenant.Id,
            CreatedAt = now,
            Outcome = RouteDecisionView.OutcomeName(decision.Outcome),
            Status = status,
            Route = chosen is null ? null : RouteNames.Of(chosen.Route),
            CandidateId = chosen?.Id,
            Model = chosen?.Model,
            Attention = chosen?.Attention,
            ForcedRoute = decision.ForcedRouteHonoured,
            EstimatedCostUsd = chosen?.ExpectedCostUsd,
            ReservedUsd = reservation is null ? null : chosen?.WorstCaseCostUsd,
            ActualCostUsd = actual,
            ExpectedRecall = chosen?.ExpectedRecall,
            EstimatedPromptTokens = chosen?.PromptTokens ?? plan.Request.QuestionTokens + plan.Request.ContextTokens,
            PromptTokens = usage?.PromptTokens,
            CachedPromptTokens = usage?.CachedPromptTokens,
            CompletionTokens = usage?.CompletionTokens,
            ReservationId = reservation,
            CounterfactualCostsUsd = decision.CounterfactualCostsUsd,
            Corpus = plan.Corpus?.Corpus.Id,
            Escalated = hybridOutcome?.Escalated,
            RagStepCostUsd = hybridOutcome?.RagCostUsd,
            LongContextStepCostUsd = hybridOutcome?.LongContextCostUsd,
            Explanation = note is null ? decision.Explanation : $"{decision.Explanation} ({note})",
            DetailJson = JsonSerializer.Serialize(RouteDecisionView.From(plan, decisionId), GatewayJsonContext.Relaxed.RouteDecisionView),
        };

        telemetry.Recorded(tenant.Id, record.Route, record.Model, status, record.EstimatedCostUsd, actual, record.ExpectedRecall,
            usage?.PromptTokens, usage?.CachedPromptTokens, usage?.CompletionTokens, CounterfactualByRoute(decision));
        if (decision.BudgetRemainingUsd is { } remaining)
        {
            telemetry.BudgetRemaining(tenant.Id, remaining - (actual ?? 0));
        }

        return record;
    }

    /// <summary>What the request would have cost on the cheapest candidate of each route other than the chosen one.</summary>
    private static Dictionary<string, decimal> CounterfactualByRoute(RouteDecision decision) =>
        decision.Candidates.Select(v => v.Candidate)
            .Where(c => c.Route != decision.Chosen?.Route)
            .GroupBy(c => c.Route)
            .ToDictionary(g => RouteNames.Of(g.Key), g => g.Min(c => c.ExpectedCostUsd), StringComparer.Ordinal);

    [LoggerMessage(Level = LogLevel.Error, Message = "Decision {DecisionId} could not be written to the decision log: {Reason}")]
    private static partial void LogRecordFailed(ILogger logger, Guid decisionId, string reason);
}
