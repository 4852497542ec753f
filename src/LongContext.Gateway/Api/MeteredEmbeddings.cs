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
        var originalBody = context.Response.Body;
        var meter = new UsageMeteringStream(originalBody, context.Response, dropUsageOnlyChunk: false);
        context.Response.Body = meter;
        var settled = false;
        try
        {
            var outcome = (await forwarder.ForwardAsync(context, model, "embeddings", request.Body, responseHeaders: headers)).Outcome;
            await meter.CompleteAsync(CancellationToken.None);
            if (outcome == ForwardOutcome.Answered && context.Response.StatusCode is >= 200 and < 300 || outcome == ForwardOutcome.ClientGone)
            {
                var actual = meter.Usage is { } usage ? pricing.Prices.Cost(usage.PromptTokens, 0, 0) : estimate;
                await ledger.Spend.CommitAsync(id, actual, CancellationToken.None);
            }
            else
            {
                await ledger.Spend.ReleaseAsync(id, CancellationToken.None);
            }

            settled = true;
        }
        finally
        {
            context.Response.Body = originalBody;
            if (!settled)
            {
                await (meter.Wrote ? ledger.Spend.CommitAsync(id, estimate, CancellationToken.None) : ledger.Spend.ReleaseAsync(id, CancellationToken.None));
            }
        }

        return Results.Empty;
    }

    /// <summary>Strings are counted with the model's tokenizer; token arrays are already tokens.</summary>
    private static long CountInput(JsonNode input, LongContext.Routing.Tokens.ITokenCounter counter) => input switch
    {
        JsonValue value when value.GetValueKind() == JsonValueKind.String => counter.Count(value.GetValue<string>()),
        JsonArray items when items.Count > 0 && items[0]?.GetValueKind() == JsonValueKind.Number => items.Count,
        JsonArray items => items.Sum(item => item is null ? 0 : CountInput(item, counter)),
        _ => 0,
    };
}
