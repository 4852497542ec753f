using System.Net.Http.Headers;
using Yarp.ReverseProxy.Forwarder;

namespace LongContext.Gateway.Proxy;

/// <summary>
/// Shapes the outgoing request: the upstream's own path and credentials replace the client's.
/// The tenant's key and the client's OpenAI account headers never leave the gateway.
/// </summary>
internal sealed class UpstreamRequestTransformer(string relativePath, string? upstreamApiKey) : HttpTransformer
{
    private static readonly string[] ClientOnlyHeaders = ["Authorization", "OpenAI-Organization", "OpenAI-Project", "Cookie"];

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);

        foreach (var header in ClientOnlyHeaders)
        {
            proxyRequest.Headers.Remove(header);
        }

        proxyRequest.Headers.Host = null;
        if (upstreamApiKey is not null)
        {
            proxyRequest.Headers.Authorization = new AuthenticationHeaderValue("Bearer", upstreamApiKey);
        }

        proxyRequest.RequestUri = new Uri(destinationPrefix + relativePath, UriKind.Absolute);
    }
}
