using System.Text.Json.Serialization;
using LongContext.Gateway.Proxy;

namespace LongContext.Gateway.Health;

internal sealed record LivenessReport([property: JsonPropertyName("status")] string Status);

internal sealed record ReadinessReport(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("config")] string Config,
    [property: JsonPropertyName("upstreams")] IReadOnlyList<UpstreamReadiness> Upstreams);

internal sealed record UpstreamReadiness(
    [property: JsonPropertyName("upstream")] string Upstream,
    [property: JsonPropertyName("destination")] string Destination,
    [property: JsonPropertyName("address")] string Address,
    [property: JsonPropertyName("reachable")] bool Reachable,
    [property: JsonPropertyName("status_code")] int? StatusCode,
    [property: JsonPropertyName("error")] string? Error);

/// <summary>
/// Asks every destination for its health path. Any HTTP answer below 500 counts as reachable:
/// a 401 from a provider still proves the network path and the server work.
/// </summary>
internal sealed class ReadinessProbe(UpstreamClusters clusters)
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(3);

    public async Task<ReadinessReport> CheckAsync(CancellationToken cancellationToken)
    {
        // Clusters out of use (disabled, no key) are reported but do not make the gateway unready.
        var usable = clusters.All.Where(cluster => cluster.UnavailableBecause is null).ToList();
        var skipped = clusters.All.Where(cluster => cluster.UnavailableBecause is not null)
            .SelectMany(cluster => cluster.Destinations.Select(d => new UpstreamReadiness(cluster.Name, d.Name, d.Address, false, null, cluster.UnavailableBecause)));
        var probes = usable.SelectMany(cluster => cluster.Destinations.Select(destination => ProbeAsync(cluster, destination, cancellationToken)));
        var results = await Task.WhenAll(probes);

        // A cluster is ready when at least one of its destinations answers.
        var ready = results.GroupBy(result => result.Upstream).All(group => group.Any(result => result.Reachable));
        return new ReadinessReport(ready ? "ready" : "unready", "loaded", [.. results, .. skipped]);
    }

    private static async Task<UpstreamReadiness> ProbeAsync(UpstreamCluster cluster, Destination destination, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ProbeTimeout);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(destination.Address + cluster.HealthPath));
        if (cluster.ApiKey is not null)
        {
            request.Headers.Authorization = new("Bearer", cluster.ApiKey);
        }

        try
        {
            using var response = await cluster.Invoker.SendAsync(request, timeout.Token);
            var code = (int)response.StatusCode;
            return new(cluster.Name, destination.Name, destination.Address, code < 500, code, code < 500 ? null : $"HTTP {code}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new(cluster.Name, destination.Name, destination.Address, false, null, $"no answer within {ProbeTimeout.TotalSeconds:0} s");
        }
        catch (HttpRequestException e)
        {
            return new(cluster.Name, destination.Name, destination.Address, false, null, e.HttpRequestError == HttpRequestError.ConnectionError ? "connection refused or unreachable" : e.Message);
        }
    }
}
