namespace LongContext.Gateway.Configuration;

/// <summary>
/// Everything the gateway reads from its settings file and the config/ files it includes.
/// Bound from the configuration root: the section names below are the top-level keys.
/// </summary>
public sealed record GatewaySettings
{
    public GatewayHostSettings Gateway { get; init; } = new();

    /// <summary>Tenants by id (config/tenants.json).</summary>
    public Dictionary<string, TenantConfig> Tenants { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Model aliases a tenant may send, by alias (config/models.json).</summary>
    public Dictionary<string, ModelConfig> Models { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Upstream clusters by name (config/upstreams.json).</summary>
    public Dictionary<string, UpstreamConfig> Upstreams { get; init; } = new(StringComparer.Ordinal);
}

public sealed record GatewayHostSettings
{
    /// <summary>Further JSON files merged into the configuration, relative to the settings file.</summary>
    public List<string> Include { get; init; } = [];

    public LimitsConfig Limits { get; init; } = new();
}

public sealed record LimitsConfig
{
    /// <summary>Largest request body accepted on the API; larger bodies get 413.</summary>
    public long MaxRequestBodyBytes { get; init; } = 32L * 1024 * 1024;

    /// <summary>Deepest JSON nesting accepted in a request body.</summary>
    public int MaxJsonDepth { get; init; } = 64;
}

public sealed record TenantConfig
{
    public string? DisplayName { get; init; }

    /// <summary>SHA-256 hex digests of the tenant's API keys; the keys themselves are never stored.</summary>
    public List<string> ApiKeyHashes { get; init; } = [];

    /// <summary>Model aliases the tenant may use; <c>*</c> allows every model in the catalog.</summary>
    public List<string> AllowedModels { get; init; } = [];
}

public sealed record ModelConfig
{
    /// <summary>Name of the upstream cluster that serves this model.</summary>
    public string Upstream { get; init; } = "";

    /// <summary>The model id the upstream knows; defaults to the alias itself.</summary>
    public string? UpstreamModel { get; init; }

    public ModelKind Kind { get; init; } = ModelKind.Chat;

    public string OwnedBy { get; init; } = "longcontext-gateway";
}

public enum ModelKind
{
    Chat,
    Embeddings,
}

public sealed record UpstreamConfig
{
    /// <summary>Destinations by name; requests are spread over them in turn.</summary>
    public Dictionary<string, DestinationConfig> Destinations { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Bearer key sent upstream; set it through the environment (Upstreams__NAME__ApiKey), not in files.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Longest silence from the upstream before the request fails with 504.</summary>
    public TimeSpan ActivityTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Path under each destination's address that readiness probes with GET.</summary>
    public string HealthPath { get; init; } = "models";
}

public sealed record DestinationConfig
{
    /// <summary>Base address of the OpenAI-compatible API, e.g. http://127.0.0.1:8081/v1/.</summary>
    public string Address { get; init; } = "";
}
