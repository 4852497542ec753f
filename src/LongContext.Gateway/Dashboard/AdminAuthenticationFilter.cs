using System.Security.Cryptography;
using LongContext.Gateway.Api;
using LongContext.Gateway.Configuration;
using LongContext.Gateway.Tenancy;
using Microsoft.Extensions.Options;

namespace LongContext.Gateway.Dashboard;

/// <summary>Admits a request to the dashboard API only with an admin key (Gateway:AdminKeyHashes) as its Bearer token; tenant keys do not open it.</summary>
internal sealed class AdminAuthenticationFilter(IOptions<GatewaySettings> settings) : IEndpointFilter
{
    private readonly byte[][] _hashes = [.. settings.Value.Gateway.AdminKeyHashes.Select(ApiKeyHash.FromHex)];

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (_hashes.Length == 0)
        {
            return new OpenAiErrorResult(StatusCodes.Status403Forbidden, new("The dashboard is off: no admin key is configured (Gateway:AdminKeyHashes).", "permission_error", null, "dashboard_disabled"));
        }

        var header = context.HttpContext.Request.Headers.Authorization.ToString().AsSpan().Trim();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return OpenAiErrors.MissingApiKey();
        }

        var presented = ApiKeyHash.Compute(header[7..].Trim());
        var match = false;
        foreach (var hash in _hashes)
        {
            match |= CryptographicOperations.FixedTimeEquals(hash, presented);
        }

        return match ? await next(context) : OpenAiErrors.InvalidApiKey();
    }
}
