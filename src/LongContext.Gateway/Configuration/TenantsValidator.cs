using LongContext.Gateway.Tenancy;
using Microsoft.Extensions.Options;

namespace LongContext.Gateway.Configuration;

internal sealed class TenantsValidator : IValidateOptions<GatewaySettings>
{
    public ValidateOptionsResult Validate(string? name, GatewaySettings options)
    {
        var failures = new List<string>();
        if (options.Tenants.Count == 0)
        {
            failures.Add("Tenants must define at least one tenant.");
        }

        var owners = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (tenantId, tenant) in options.Tenants)
        {
            if (tenant.ApiKeyHashes.Count == 0)
            {
                failures.Add($"{ConfigKeys.Of("Tenants", tenantId, "ApiKeyHashes")} must list at least one SHA-256 key hash.");
            }

            for (var i = 0; i < tenant.ApiKeyHashes.Count; i++)
            {
                var hash = tenant.ApiKeyHashes[i];
                var key = ConfigKeys.Of("Tenants", tenantId, "ApiKeyHashes", i);
                if (!ApiKeyHash.IsWellFormed(hash))
                {
                    failures.Add($"{key} is not a SHA-256 hex digest (64 hex characters); compute one with the gateway's `hash-key` command.");
                }
                else if (!owners.TryAdd(hash, tenantId))
                {
                    failures.Add($"{key} is also a key of tenant '{owners[hash]}'; a key must belong to one tenant.");
                }
            }

            if (tenant.RateLimits.RequestsPerMinute is < 1)
            {
                failures.Add($"{ConfigKeys.Of("Tenants", tenantId, "RateLimits", "RequestsPerMinute")} must be at least 1 when set (was {tenant.RateLimits.RequestsPerMinute}).");
            }

            if (tenant.RateLimits.TokensPerMinute is < 1)
            {
                failures.Add($"{ConfigKeys.Of("Tenants", tenantId, "RateLimits", "TokensPerMinute")} must be at least 1 when set (was {tenant.RateLimits.TokensPerMinute}).");
            }

            if (tenant.AllowedModels.Count == 0)
            {
                failures.Add($"{ConfigKeys.Of("Tenants", tenantId, "AllowedModels")} must list at least one model alias (or \"*\").");
            }

            for (var i = 0; i < tenant.AllowedModels.Count; i++)
            {
                var model = tenant.AllowedModels[i];
                if (model != Tenant.AnyModel && !options.Models.ContainsKey(model))
                {
                    failures.Add($"{ConfigKeys.Of("Tenants", tenantId, "AllowedModels", i)} names '{model}', which is not defined under Models.");
                }
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
