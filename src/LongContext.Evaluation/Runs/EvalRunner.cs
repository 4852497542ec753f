using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using LongContext.Evaluation.Probes;

namespace LongContext.Evaluation.Runs;

/// <summary>How a probe's context travels: inside the user message, or as the gateway's inline documents (which RAG can retrieve from).</summary>
public enum ContextMode
{
    Message,
    Documents,
}

/// <summary>Where and how to run probes: the gateway, the tenant's key, the model, the route (auto or forced).</summary>
public sealed record EvalOptions
{
    public required Uri Gateway { get; init; }

    public required string ApiKey { get; init; }

    public string Model { get; init; } = "auto";

    /// <summary>auto, rag, long_context or hybrid.</summary>
    public string Route { get; init; } = "auto";

    public ContextMode Context { get; init; } = ContextMode.Documents;

    public int MaxTokens { get; init; } = 32;

    /// <summary>With the tenant's id, an admin key lets the runner read each request's actual cost from the ledger (the dashboard API).</summary>
    public string? AdminKey { get; init; }

    public string? Tenant { get; init; }
}

/// <summary>One probe's outcome.</summary>
public sealed record EvalResult(Probe Probe, string? Route, string? Candidate, string? Model, bool Hit, string Reply, decimal? CostUsd, string CostSource, double Seconds, string? DecisionId, string? Error);

/// <summary>
/// Sends probes to the gateway as an ordinary OpenAI-compatible client (POST /v1/chat/completions),
/// the route forced with <c>X-LCG-Route</c> or left to routing, and scores each reply by
/// case-insensitive substring match.
/// </summary>
public sealed class EvalRunner(HttpClient http, EvalOptions options)
{
    public async Task<IReadOnlyList<EvalResult>> RunAsync(IReadOnlyList<Probe> probes, Action<int, int>? progress = null, CancellationToken cancellationToken = default)
    {
        var results = new List<EvalResult>(probes.Count);
        foreach (var probe in probes)
        {
            results.Add(await RunAsync(probe, cancellationToken));
            progress?.Invoke(results.Count, probes.Count);
        }

        return results;
    }

    public async Task<EvalResult> RunAsync(Probe probe, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["model"] = options.Model,
            ["max_tokens"] = options.MaxTokens,
            ["temperature"] = 0,
            ["messages"] = new JsonArray(new JsonObject
            {
                ["role"] = "user",
                ["content"] = options.Context == ContextMode.Message ? probe.Context + " " + probe.Question : probe.Question,
            }),
        };
        if (options.Context == ContextMode.Documents)
        {
            body["lcg"] = new JsonObject { ["documents"] = new JsonArray(new JsonObject { ["id"] = "haystack", ["text"] = probe.Context }) };
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(options.Gateway, "v1/chat/completions")) { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKey);
        if (!string.Equals(options.Route, "auto", StringComparison.OrdinalIgnoreCase))
        {
            request.Headers.Add("X-LCG-Route", options.Route);
        }

        var clock = Stopwatch.StartNew();
        using var response = await http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        var seconds = clock.Elapsed.TotalSeconds;
        string? Header(string name) => response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;
        var (route, candidate, decisionId) = (Header("X-LCG-Route"), Header("X-LCG-Candidate"), Header("X-LCG-Decision-Id"));
        if (!response.IsSuccessStatusCode)
        {
            var message = JsonNode.Parse(text)?["error"]?["message"]?.ToString() ?? text;
            return new EvalResult(probe, route, candidate, null, false, "", null, "none", seconds, decisionId, $"HTTP {(int)response.StatusCode}: {message}");
        }

        var json = JsonNode.Parse(text)!;
        var reply = json["choices"]?[0]?["message"]?["content"]?.ToString() ?? "";
        var (cost, source) = await CostAsync(decisionId, Header("X-LCG-Estimated-Cost-Usd"), cancellationToken);
        return new EvalResult(probe, route, candidate, json["model"]?.ToString(), probe.IsAnsweredBy(reply), reply, cost, source, seconds, decisionId, null);
    }

    /// <summary>The actual cost from the ledger when an admin key and tenant are given, else the gateway's estimate.</summary>
    private async Task<(decimal? Cost, string Source)> CostAsync(string? decisionId, string? estimated, CancellationToken cancellationToken)
    {
        if (options.AdminKey is { } admin && options.Tenant is { } tenant && decisionId is not null)
        {
            // The decision row is written as the answer is settled: a moment after the reply.
            for (var attempt = 0; attempt < 50; attempt++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(options.Gateway, $"api/dashboard/decisions/{decisionId}?tenant={Uri.EscapeDataString(tenant)}"));
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", admin);
                using var response = await http.SendAsync(request, cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    var row = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))!;
                    return (row["actual_cost_usd"]?.GetValue<decimal>(), "ledger");
                }

                await Task.Delay(20, cancellationToken);
            }
        }

        return (estimated is not null && decimal.TryParse(estimated, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : null, "estimated");
    }
}
