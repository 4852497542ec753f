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
    /// <summary>
    /// Forwards <paramref name="body"/> and streams the answer to the client. With
    /// <paramref name="holdBackTooLarge"/> an upstream's refusal of the request as too large for it
    /// (<see cref="TooLargeRefusal"/>) is not sent on: the result says so and the response is left
    /// untouched, for the caller to route the request elsewhere.
    /// </summary>
    public async Task<ForwardResult> ForwardAsync(
        HttpContext context,
        ResolvedModel model,
        string relativePath,
        JsonObject body,
        IReadOnlyDictionary<string, string>? upstreamHeaders = null,
        IReadOnlyDictionary<string, string>? responseHeaders = null,
        bool holdBackTooLarge = false)
    {
        body["model"] = model.UpstreamModel;
        ReplaceRequestBody(context.Request, body);

        var cluster = model.Cluster;
        var destination = cluster.NextDestination();
        var headers = model.UpstreamHeaders.Concat(upstreamHeaders ?? GatewayHeaders.None).ToDictionary(h => h.Key, h => h.Value, StringComparer.OrdinalIgnoreCase);
        var transformer = new UpstreamRequestTransformer(relativePath, cluster.ApiKey, headers, responseHeaders, holdBackTooLarge);
        var error = await forwarder.SendAsync(context, destination.Address, cluster.Invoker, cluster.RequestConfig, transformer);
        if (error == ForwarderError.None && transformer.TooLarge is { } refusal)
        {
            LogTooLarge(logger, relativePath, model.Alias, cluster.Name, refusal);
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.Headers.Clear();
            return new(ForwardOutcome.RefusedAsTooLarge, refusal);
        }

        if (error == ForwarderError.None)
        {
            LogForwarded(logger, relativePath, model.Alias, cluster.Name, destination.Name, context.Response.StatusCode);
            return new(ForwardOutcome.Answered);
        }

        var exception = context.GetForwarderErrorFeature()?.Exception;
        if (error is ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled or ForwarderError.ResponseBodyCanceled or ForwarderError.UpgradeRequestCanceled)
        {
            LogClientGone(logger, relativePath, cluster.Name, error);
            return new(ForwardOutcome.ClientGone);
        }

        LogUpstreamFailed(logger, relativePath, cluster.Name, destination.Name, error, exception?.Message);
        if (context.Response.HasStarted)
        {
            // Part of the answer is already with the client: the only honest signal left is an aborted stream.
            context.Abort();
            return new(ForwardOutcome.BrokenMidAnswer);
        }

        context.Response.Headers.Clear();
        GatewayHeaders.Apply(context.Response, responseHeaders);
        var result = error == ForwarderError.RequestTimedOut
            ? OpenAiErrors.UpstreamTimeout(cluster.Name)
            : OpenAiErrors.UpstreamUnavailable(cluster.Name);
        await result.ExecuteAsync(context);
        return new(ForwardOutcome.Unreachable);
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

    [LoggerMessage(Level = LogLevel.Information, Message = "{Path} for model {Model} was refused by {Upstream} as too large for it ({Refusal}); routing elsewhere")]
    private static partial void LogTooLarge(ILogger logger, string path, string model, string upstream, string refusal);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Client went away during {Path} to {Upstream}: {Error}")]
    private static partial void LogClientGone(ILogger logger, string path, string upstream, ForwarderError error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Forwarding {Path} to {Upstream}/{Destination} failed: {Error} ({Reason})")]
    private static partial void LogUpstreamFailed(ILogger logger, string path, string upstream, string destination, ForwarderError error, string? reason);
}

/// <summary>How a forwarded request ended, and the upstream's refusal when it was held back.</summary>
internal readonly record struct ForwardResult(ForwardOutcome Outcome, string? Refusal = null);

/// <summary>How a forwarded request ended, for settling its spend.</summary>
internal enum ForwardOutcome
{
    /// <summary>The upstream answered (any status); its answer went to the client.</summary>
    Answered,

    /// <summary>The upstream could not be reached or did not answer in time; the client got 502/504.</summary>
    Unreachable,

    /// <summary>The upstream failed after part of the answer was sent; the client's stream was aborted.</summary>
    BrokenMidAnswer,

    /// <summary>The client went away.</summary>
    ClientGone,

    /// <summary>The upstream refused the request as too large for it; nothing was sent to the client.</summary>
    RefusedAsTooLarge,
}
