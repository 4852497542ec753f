using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using LongContext.Gateway.Accounting;
using LongContext.Gateway.Proxy;
using LongContext.Gateway.Routing;
using LongContext.Gateway.Tenancy;
using LongContext.Ledger.Spend;

namespace LongContext.Gateway.Api;

/// <summary>
/// Embeddings cost money too: a priced embeddings model's input is counted, reserved against the
/// tenant's budget, and settled from the upstream's reported prompt tokens. Free (local) models
/// are forwarded without a reservation.
/// </summary>
internal sealed class MeteredEmbeddings(RoutingCatalog routing, LedgerStore ledger, UpstreamForwarder forwarder, TimeProvider time)
{
    public async Task<IResult> HandleAsync(HttpContext context, EmbeddingsRequest request, ResolvedModel model)
    {
        if (routing.EmbeddingPricing(model.Alias) is not { } pricing)
        {
            await forwarder.ForwardAsync(context, model, "embeddings", request.Body);
            return Results.Empty;
        }

        var tenant = context.GetTenant();
        var tokens = CountInput(request.Body["input"]!, pricing.Counter);
        var estimate = pricing.Prices.Cost(tokens, 0, 0);
        var reservation = await ledger.Spend.ReserveAsync(
            new ReservationRequest(tenant.Id, estimate, routing.LimitsOf(tenant), time.GetUtcNow(), routing.Settings.ReservationTimeToLive),
            context.RequestAborted);
        if (!reservation.Granted)
        {
            var remaining = new LongContext.Routing.Policies.BudgetState(reservation.MonthlyRemainingUsd, reservation.DailyRemainingUsd).Remaining;
            return OpenAiErrors.BudgetExceeded(
                $"The tenant's budget cannot cover this request: embedding {tokens:N0} tokens costs ${estimate.ToString("0.#########", CultureInfo.InvariantCulture)}."
                + (remaining is { } r ? $" Remaining budget: ${Math.Max(r, 0).ToString("0.#########", CultureInfo.InvariantCulture)}." : ""));
        }

        var id = reservation.ReservationId!.Value;
        var headers = new Dictionary<string, string> { [GatewayHeaders.EstimatedCost] = estimate.ToString("0.#########", CultureInfo.InvariantCulture) };
        await using var metered = new MeteredResponse(context.Response, dropUsageOnlyChunk: false, spentIfAnswered: estimate, actual => SettleAsync(id, actual));
        var outcome = (await forwarder.ForwardAsync(context, model, "embeddings", request.Body, responseHeaders: headers)).Outcome;
        await metered.Meter.CompleteAsync(CancellationToken.None);
        var spent = outcome == ForwardOutcome.Answered && context.Response.StatusCode is >= 200 and < 300 || outcome == ForwardOutcome.ClientGone;
        await SettleAsync(id, spent ? (metered.Meter.Usage is { } usage ? pricing.Prices.Cost(usage.PromptTokens, 0, 0) : estimate) : null);
        metered.MarkSettled();
        return Results.Empty;
    }

    /// <summary>Commits what was spent, or releases the reservation when nothing was; false when it was no longer open.</summary>
    private Task<bool> SettleAsync(Guid reservationId, decimal? actual) => actual is { } cost
        ? ledger.Spend.CommitAsync(reservationId, cost, CancellationToken.None)
        : ledger.Spend.ReleaseAsync(reservationId, CancellationToken.None);

    /// <summary>Strings are counted with the model's tokenizer; token arrays are already tokens.</summary>
    private static long CountInput(JsonNode input, LongContext.Routing.Tokens.ITokenCounter counter) => input switch
    {
        JsonValue value when value.GetValueKind() == JsonValueKind.String => counter.Count(value.GetValue<string>()),
        JsonArray items when items.Count > 0 && items[0]?.GetValueKind() == JsonValueKind.Number => items.Count,
        JsonArray items => items.Sum(item => item is null ? 0 : CountInput(item, counter)),
        _ => 0,
    };
}
