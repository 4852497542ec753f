using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace LongContext.Gateway.Telemetry;

/// <summary>
/// The gateway's own traces and metrics. Spans: <c>decide</c>, <c>retrieve</c>, <c>position</c>,
/// <c>forward</c>, <c>settle</c> (and the hybrid route's <c>rag_step</c>). Metrics (Prometheus names
/// in brackets): requests [lcg_requests_total], tokens [lcg_tokens_total], estimated and actual cost
/// [lcg_cost_usd_total], the other routes' counterfactual cost [lcg_counterfactual_cost_usd_total],
/// expected recall [lcg_expected_recall], measured recall of the latest evaluation run [lcg_measured_recall], decision and upstream latency
/// [lcg_decision_duration_seconds, lcg_upstream_duration_seconds], reservations this gateway holds
/// [lcg_open_reservations] and each tenant's remaining budget [lcg_budget_remaining_usd].
/// </summary>
internal sealed class GatewayTelemetry : IDisposable
{
    public const string Name = "LongContext.Gateway";

    public static readonly ActivitySource Source = new(Name);

    private readonly Meter _meter;
    private readonly Counter<long> _requests;
    private readonly Counter<long> _tokens;
    private readonly Counter<double> _cost;
    private readonly Counter<double> _counterfactual;
    private readonly Histogram<double> _expectedRecall;
    private readonly Histogram<double> _decision;
    private readonly Histogram<double> _upstream;
    private readonly UpDownCounter<long> _reservations;
    private readonly ConcurrentDictionary<string, double> _budgetRemaining = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Tenant, string Route, string Bucket), double> _measuredRecall = new();

    public GatewayTelemetry(IMeterFactory meters)
    {
        _meter = meters.Create(Name);
        _requests = _meter.CreateCounter<long>("lcg.requests", description: "Chat requests by tenant, route, model and outcome status.");
        _tokens = _meter.CreateCounter<long>("lcg.tokens", description: "Tokens the upstreams reported, by kind (prompt, completion, cached).");
        _cost = _meter.CreateCounter<double>("lcg.cost", unit: "usd", description: "Cost of routed requests: estimated at decision time and actually committed.");
        _counterfactual = _meter.CreateCounter<double>("lcg.counterfactual_cost", unit: "usd", description: "What each request would have cost on the cheapest candidate of each route (route = the alternative).");
        _expectedRecall = _meter.CreateHistogram<double>("lcg.expected_recall", description: "Expected recall of the chosen candidate.");
        _decision = _meter.CreateHistogram<double>("lcg.decision.duration", unit: "s", description: "Time to measure, score and decide a request.");
        _upstream = _meter.CreateHistogram<double>("lcg.upstream.duration", unit: "s", description: "Time from forwarding to the end of the upstream's answer.");
        _reservations = _meter.CreateUpDownCounter<long>("lcg.open_reservations", description: "Budget reservations this gateway holds right now, per tenant.");
        _meter.CreateObservableGauge("lcg.measured_recall", () => _measuredRecall.Select(m => new Measurement<double>(m.Value, new("tenant", m.Key.Tenant), new("route", m.Key.Route), new("bucket", m.Key.Bucket))), description: "Recall measured by the latest evaluation run, per tenant, route and context-length bucket.");
        _meter.CreateObservableGauge("lcg.budget_remaining", () => _budgetRemaining.Select(b => new Measurement<double>(b.Value, new KeyValuePair<string, object?>("tenant", b.Key))), unit: "usd", description: "Monthly (else daily) budget left per budgeted tenant, as of its latest request.");
    }

    public void Decided(TimeSpan elapsed) => _decision.Record(elapsed.TotalSeconds);

    public void Answered(string model, string route, TimeSpan elapsed) => _upstream.Record(elapsed.TotalSeconds, new("model", model), new("route", route));

    public void ReservationOpened(string tenant) => _reservations.Add(1, new KeyValuePair<string, object?>("tenant", tenant));

    public void ReservationSettled(string tenant) => _reservations.Add(-1, new KeyValuePair<string, object?>("tenant", tenant));

    public void MeasuredRecall(string tenant, string route, string bucket, double recall) => _measuredRecall[(tenant, route, bucket)] = recall;

    public void BudgetRemaining(string tenant, decimal remaining) => _budgetRemaining[tenant] = (double)Math.Max(remaining, 0);

    /// <summary>One decision-log row's worth of numbers.</summary>
    public void Recorded(string tenant, string? route, string? model, string status, decimal? estimated, decimal? actual, double? expectedRecall,
        long? promptTokens, long? cachedTokens, long? completionTokens, IReadOnlyDictionary<string, decimal> counterfactualByRoute)
    {
        var (r, m) = (route ?? "none", model ?? "none");
        _requests.Add(1, new("tenant", tenant), new("route", r), new("model", m), new("status", status));
        if (estimated is { } e)
        {
            _cost.Add((double)e, new("tenant", tenant), new("route", r), new("kind", "estimated"));
        }

        if (actual is { } a)
        {
            _cost.Add((double)a, new("tenant", tenant), new("route", r), new("kind", "actual"));
        }

        if (expectedRecall is { } recall)
        {
            _expectedRecall.Record(recall, new KeyValuePair<string, object?>("route", r));
        }

        foreach (var (kind, count) in new[] { ("prompt", promptTokens), ("cached", cachedTokens), ("completion", completionTokens) })
        {
            if (count is > 0)
            {
                _tokens.Add(count.Value, new("tenant", tenant), new("route", r), new("model", m), new("kind", kind));
            }
        }

        foreach (var (alternative, cost) in counterfactualByRoute)
        {
            _counterfactual.Add((double)cost, new("tenant", tenant), new("route", alternative));
        }
    }

    public void Dispose() => _meter.Dispose();
}
