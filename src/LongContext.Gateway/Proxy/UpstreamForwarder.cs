using System.Text.Json;
using System.Text.Json.Nodes;
using LongContext.Gateway.Api;
using Yarp.ReverseProxy.Forwarder;

namespace LongContext.Gateway.Proxy;

/// <summary>
/// Sends a request body the gateway built to a model's upstream through YARP's forwarder and
/// streams the answer back unbuffered; failures to reach the upstream become OpenAI-shaped 502/504.
/// </summary>
internal sealed partial class UpstreamForwarder(IHttpForwarder forwarder, ILogger<UpstreamForwarder> logger)
{
    public async Task ForwardAsync(HttpContext context, ResolvedModel model, string relativePath, JsonObject body)
    {
        body["model"] = model.UpstreamModel;
        ReplaceRequestBody(context.Request, body);

        var cluster = model.Cluster;
        var destination = cluster.NextDestination();
        var transformer = new UpstreamRequestTransformer(relativePath, cluster.ApiKey);
        var error = await forwarder.SendAsync(context, destination.Address, cluster.Invoker, cluster.RequestConfig, transformer);
        if (error == ForwarderError.None)
        {
            LogForwarded(logger, relativePath, model.Alias, cluster.Name, destination.Name, context.Response.StatusCode);
            return;
        }

        var exception = context.GetForwarderErrorFeature()?.Exception;
        if (error is ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled or ForwarderError.ResponseBodyCanceled or ForwarderError.UpgradeRequestCanceled)
        {
            LogClientGone(logger, relativePath, cluster.Name, error);
            return;
        }

        LogUpstreamFailed(logger, relativePath, cluster.Name, destination.Name, error, exception?.Message);
        if (context.Response.HasStarted)
        {
            // Part of the answer is already with the client: the only honest signal left is an aborted stream.
            context.Abort();
            return;
        }

        context.Response.Headers.Clear();
        var result = error == ForwarderError.RequestTimedOut
            ? OpenAiErrors.UpstreamTimeout(cluster.Name)
            : OpenAiErrors.UpstreamUnavailable(cluster.Name);
        await result.ExecuteAsync(context);
    }

    /// <summary>YARP streams the incoming body; give it the gateway's body instead (YARP's documented way to change a body).</summary>
    private static void ReplaceRequestBody(HttpRequest request, JsonObject body)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            body.WriteTo(writer);
        }

        buffer.Position = 0;
        request.Body = buffer;
        request.ContentLength = buffer.Length;
        request.ContentType = "application/json";
        request.Headers.Remove("Transfer-Encoding");
        request.Headers.Remove("Content-Encoding");
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Forwarded {Path} for model {Model} to {Upstream}/{Destination}: {StatusCode}")]
    private static partial void LogForwarded(ILogger logger, string path, string model, string upstream, string destination, int statusCode);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Client went away during {Path} to {Upstream}: {Error}")]
    private static partial void LogClientGone(ILogger logger, string path, string upstream, ForwarderError error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Forwarding {Path} to {Upstream}/{Destination} failed: {Error} ({Reason})")]
    private static partial void LogUpstreamFailed(ILogger logger, string path, string upstream, string destination, ForwarderError error, string? reason);
}
