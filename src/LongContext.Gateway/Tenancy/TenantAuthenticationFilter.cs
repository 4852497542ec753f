using LongContext.Gateway.Api;

namespace LongContext.Gateway.Tenancy;

/// <summary>Admits only requests bearing a known tenant key (OpenAI's <c>Authorization: Bearer</c>).</summary>
internal sealed partial class TenantAuthenticationFilter(TenantDirectory tenants, TenantRateLimiter limits, ILogger<TenantAuthenticationFilter> logger) : IEndpointFilter
{
    private const string BearerPrefix = "Bearer ";

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var header = http.Request.Headers.Authorization;
        if (header.Count == 0 || string.IsNullOrEmpty(header[0]))
        {
            LogRejected(logger, "missing");
            return OpenAiErrors.MissingApiKey();
        }

        var value = header[0]!.AsSpan().Trim();
        if (header.Count > 1 || !value.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
        {
            LogRejected(logger, "malformed");
            return OpenAiErrors.InvalidApiKey();
        }

        var tenant = tenants.Authenticate(value[BearerPrefix.Length..].Trim());
        if (tenant is null)
        {
            LogRejected(logger, "unknown");
            return OpenAiErrors.InvalidApiKey();
        }

        if (limits.AdmitRequest(tenant.Id) is { Allowed: false } refused)
        {
            LogRateLimited(logger, tenant.Id, refused.Reason!);
            return OpenAiErrors.RateLimited(refused.Reason!, refused.RetryAfter);
        }

        http.Features.Set(new TenantFeature(tenant));
        return await next(context);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Rate limited tenant {Tenant}: {Reason}")]
    private static partial void LogRateLimited(ILogger logger, string tenant, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rejected a request: {Reason} API key")]
    private static partial void LogRejected(ILogger logger, string reason);
}

internal sealed record TenantFeature(Tenant Tenant);

internal static class TenantHttpContextExtensions
{
    /// <summary>The tenant admitted by <see cref="TenantAuthenticationFilter"/>.</summary>
    public static Tenant GetTenant(this HttpContext context) =>
        context.Features.Get<TenantFeature>()?.Tenant
        ?? throw new InvalidOperationException("No tenant on this request: the endpoint is missing the tenant filter.");
}
