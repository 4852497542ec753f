using LongContext.Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace LongContext.Gateway.Proxy;

/// <summary>The configured upstream clusters by name.</summary>
internal sealed class UpstreamClusters : IDisposable
{
    private readonly Dictionary<string, UpstreamCluster> _clusters;

    public UpstreamClusters(IOptions<GatewaySettings> settings, TimeProvider time) =>
        _clusters = settings.Value.Upstreams.ToDictionary(pair => pair.Key, pair => new UpstreamCluster(pair.Key, pair.Value, time), StringComparer.Ordinal);

    public IEnumerable<UpstreamCluster> All => _clusters.Values;

    public UpstreamCluster Get(string name) =>
        _clusters.TryGetValue(name, out var cluster)
            ? cluster
            : throw new KeyNotFoundException($"No upstream cluster '{name}' is configured.");

    public void Dispose()
    {
        foreach (var cluster in _clusters.Values)
        {
            cluster.Dispose();
        }
    }
}
