using LongContext.Gateway.Api;
using LongContext.Gateway.Configuration;
using LongContext.Gateway.Tenancy;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace LongContext.Gateway.Proxy;

/// <summary>
/// The unrouted path (<see cref="PassthroughConfig"/>): PathPrefix/rest goes to the upstream's
/// address + rest, streamed both ways by YARP's forwarder, with the tenant's key checked and the
/// upstream's sent instead. No retries: the request may not be safe to repeat.
/// </summary>
internal static class PassthroughApi
{
    public static IEndpointRouteBuilder MapPassthrough(this IEndpointRouteBuilder app)
    {
        var settings = app.ServiceProvider.GetRequiredService<IOptions<GatewaySettings>>().Value.Gateway.Passthrough;
        if (settings.Upstream is not { } upstream)
        {
            return app;
        }

        app.Map(settings.PathPrefix + "/{**rest}", (HttpContext context, string? rest, UpstreamClusters clusters, IHttpForwarder forwarder) =>
                ForwardAsync(context, rest ?? "", clusters.Get(upstream), forwarder))
            .AddEndpointFilter<TenantAuthenticationFilter>();
        return app;
    }

    private static async Task<IResult> ForwardAsync(HttpContext context, string rest, UpstreamCluster cluster, IHttpForwarder forwarder)
    {
        if (cluster.UnavailableBecause is { } why)
        {
            return OpenAiErrors.UpstreamUnavailable(cluster.Name, why);
        }

        // The destination's address ends in '/v1/' or similar; the client's path after the prefix follows it.
        var path = (rest.StartsWith("v1/", StringComparison.Ordinal) && cluster.Destinations[0].Address.EndsWith("/v1/", StringComparison.Ordinal) ? rest[3..] : rest)
            + context.Request.QueryString.Value;
        var transformer = new UpstreamRequestTransformer(path, cluster.ApiKey);
        var error = await forwarder.SendAsync(context, cluster.NextDestination().Address, cluster.Invoker, cluster.RequestConfig, transformer);
        if (error == ForwarderError.None || context.Response.HasStarted)
        {
            return Results.Empty;
        }

        context.Response.Headers.Clear();
        return error == ForwarderError.RequestTimedOut ? OpenAiErrors.UpstreamTimeout(cluster.Name) : OpenAiErrors.UpstreamUnavailable(cluster.Name);
    }
}
