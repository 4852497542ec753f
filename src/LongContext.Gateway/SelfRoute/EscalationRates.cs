using System.Collections.Concurrent;
using LongContext.Gateway.Accounting;
using LongContext.Gateway.Configuration;
using LongContext.Gateway.Routing;
using LongContext.Ledger.Decisions;
using LongContext.Routing.Decision;
using Microsoft.Extensions.Options;

namespace LongContext.Gateway.SelfRoute;

/// <summary>
/// The hybrid route's escalation probability per tenant and corpus, learned from the decision log:
/// the Beta–binomial mean with the configured prior (Routing:Rag:EscalationProbability) counted as
/// Routing:Hybrid:PriorWeight observations, over Routing:Hybrid:ObservationWindow. Counts are read
/// from the ledger (shared by every gateway on it) at most every few seconds per key, and this
/// gateway's own observations are added as they happen.
/// </summary>
internal sealed class EscalationRates(LedgerStore ledger, RoutingCatalog routing, IOptions<GatewaySettings> settings, TimeProvider time)
{
    private static readonly TimeSpan Refresh = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<(string Tenant, string Corpus), (DateTimeOffset ReadAt, EscalationCounts Counts)> _counts = new();

    public async Task<EscalationEstimate> EstimateAsync(string tenantId, string corpus, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var key = (tenantId, corpus);
        if (!_counts.TryGetValue(key, out var entry) || now - entry.ReadAt > Refresh)
        {
            var counts = await ledger.Decisions.CountEscalationsAsync(tenantId, corpus, now - settings.Value.Routing.Hybrid.ObservationWindow, cancellationToken);
            entry = (now, counts);
            _counts[key] = entry;
        }

        return EscalationEstimate.Smoothed(entry.Counts.Observed, entry.Counts.Escalated, routing.Rag.EscalationProbability, settings.Value.Routing.Hybrid.PriorWeight);
    }

    /// <summary>Counts an execution this gateway just logged, so the next estimate includes it before the next read.</summary>
    public void Observe(string tenantId, string corpus, bool escalated) =>
        _counts.AddOrUpdate(
            (tenantId, corpus),
            _ => (DateTimeOffset.MinValue, new EscalationCounts(1, escalated ? 1 : 0)),
            (_, entry) => (entry.ReadAt, new EscalationCounts(entry.Counts.Observed + 1, entry.Counts.Escalated + (escalated ? 1 : 0))));
}
