namespace LongContext.Gateway.Tenancy;

/// <summary>An authenticated caller of the gateway and what it may use.</summary>
internal sealed class Tenant
{
    public const string AnyModel = "*";

    private readonly HashSet<string> _allowedModels;
    private readonly bool _allowsAnyModel;

    public Tenant(string id, string displayName, IEnumerable<string> allowedModels)
    {
        Id = id;
        DisplayName = displayName;
        _allowedModels = new HashSet<string>(allowedModels, StringComparer.Ordinal);
        _allowsAnyModel = _allowedModels.Contains(AnyModel);
    }

    public string Id { get; }

    public string DisplayName { get; }

    public bool MayUse(string modelAlias) => _allowsAnyModel || _allowedModels.Contains(modelAlias);
}
