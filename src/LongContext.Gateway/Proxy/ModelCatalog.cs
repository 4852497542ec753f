using LongContext.Gateway.Configuration;
using LongContext.Gateway.Tenancy;
using Microsoft.Extensions.Options;

namespace LongContext.Gateway.Proxy;

/// <summary>A model alias resolved to the cluster that serves it and the id that cluster knows it by.</summary>
internal sealed record ResolvedModel(string Alias, string UpstreamModel, ModelKind Kind, string OwnedBy, UpstreamCluster Cluster)
{
    /// <summary>The body field that caps output tokens for this upstream.</summary>
    public string MaxTokensField { get; init; } = "max_tokens";

    public IReadOnlyDictionary<string, string> UpstreamHeaders { get; init; } = new Dictionary<string, string>();
}

/// <summary>Maps the model names tenants send to upstream clusters and upstream model ids.</summary>
internal sealed class ModelCatalog
{
    private readonly Dictionary<string, ResolvedModel> _models;

    public ModelCatalog(IOptions<GatewaySettings> settings, UpstreamClusters clusters, TimeProvider time)
    {
        _models = settings.Value.Models.ToDictionary(
            pair => pair.Key,
            pair => new ResolvedModel(pair.Key, pair.Value.UpstreamModel ?? pair.Key, pair.Value.Kind, pair.Value.OwnedBy, clusters.Get(pair.Value.Upstream))
            {
                MaxTokensField = pair.Value.MaxTokensField,
                UpstreamHeaders = pair.Value.UpstreamHeaders,
            },
            StringComparer.Ordinal);
        LoadedAt = time.GetUtcNow();
    }

    /// <summary>When the catalog was read; reported as the models' <c>created</c> time, since config carries none.</summary>
    public DateTimeOffset LoadedAt { get; }

    /// <summary>Finds the model only when the tenant may use it; otherwise it does not exist for them.</summary>
    public ResolvedModel? Find(Tenant tenant, string alias) =>
        tenant.MayUse(alias) && _models.TryGetValue(alias, out var model) ? model : null;

    /// <summary>The models a tenant may use whose upstream is in service.</summary>
    public IEnumerable<ResolvedModel> AvailableTo(Tenant tenant) => VisibleTo(tenant).Where(model => model.Cluster.UnavailableBecause is null);

    public IEnumerable<ResolvedModel> VisibleTo(Tenant tenant) =>
        _models.Values.Where(model => tenant.MayUse(model.Alias)).OrderBy(model => model.Alias, StringComparer.Ordinal);
}
