using System.Security.Cryptography;
using LongContext.Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace LongContext.Gateway.Tenancy;

/// <summary>Resolves a presented API key to its tenant.</summary>
internal sealed class TenantDirectory
{
    private readonly (byte[] Hash, Tenant Tenant)[] _keys;

    public TenantDirectory(IOptions<GatewaySettings> settings)
    {
        var tenants = settings.Value.Tenants;
        _keys = [.. tenants.SelectMany(pair =>
        {
            var tenant = new Tenant(pair.Key, pair.Value.DisplayName ?? pair.Key, pair.Value.AllowedModels);
            return pair.Value.ApiKeyHashes.Select(hex => (ApiKeyHash.FromHex(hex), tenant));
        })];
    }

    /// <summary>
    /// Compares the key's digest with every stored digest in constant time and without stopping
    /// at the first match, so response time says nothing about which keys exist.
    /// </summary>
    public Tenant? Authenticate(ReadOnlySpan<char> apiKey)
    {
        if (apiKey.IsEmpty)
        {
            return null;
        }

        var presented = ApiKeyHash.Compute(apiKey);
        Tenant? match = null;
        foreach (var (hash, tenant) in _keys)
        {
            if (CryptographicOperations.FixedTimeEquals(hash, presented))
            {
                match = tenant;
            }
        }

        return match;
    }
}
