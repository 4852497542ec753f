using System.Text.Json;
using System.Text.Json.Nodes;
using LongContext.Gateway.Api;
using Polly;
using Polly.CircuitBreaker;
using Yarp.ReverseProxy.Forwarder;

namespace LongContext.Gateway.Proxy;

/// <summary>
/// Sends a request body the gateway built to a model's upstream through YARP's forwarder and
/// streams the answer back unbuffered, through the cluster's resilience pipeline (retries of what
/// is safe to repeat, circuit breaker, first-byte timeout); failures to reach the upstream become
/// OpenAI-shaped 502/503/504, or are held back for the caller to route elsewhere.
/// </summary>
internal sealed partial class UpstreamForwarder(IHttpForwarder forwarder, TimeProvider time, ILogger<UpstreamForwarder> logger)
{
    /// <summary>
    /// Forwards <paramref name="body"/> and streams the answer to the client. With
    /// <paramref name="holdBackTooLarge"/> an upstream's refusal of the request as too large for it
    /// (<see cref="TooLargeRefusal"/>) is not sent on: the result says so and the response is left
    /// untouched, for the caller to route the request elsewhere. With
    /// <paramref name="holdBackFailures"/> the same holds for an upstream that is down (unreachable,
    /// 5xx after the retries, circuit open): <see cref="ForwardOutcome.Unavailable"/>. A 429 that
    /// outlasts the retries goes to the client as the upstream wrote it.
    /// </summary>
    public async Task<ForwardResult> ForwardAsync(
        HttpContext context,
        ResolvedModel model,
        string relativePath,
        JsonObject body,
        IReadOnlyDictionary<string, string>? upstreamHeaders = null,
        IReadOnlyDictionary<string, string>? responseHeaders = null,
        bool holdBackTooLarge = false,
        bool holdBackFailures = false)
    {
        body["model"] = model.UpstreamModel;
        var bytes = Serialize(body);
        var cluster = model.Cluster;
        var headers = model.UpstreamHeaders.Concat(upstreamHeaders ?? GatewayHeaders.None).ToDictionary(h => h.Key, h => h.Value, StringComparer.OrdinalIgnoreCase);
        var state = new AttemptState(this, context, model, relativePath, bytes, headers, responseHeaders, holdBackTooLarge, holdBackFailures);

        var resilience = ResilienceContextPool.Shared.Get(context.RequestAborted);
        Outcome<ForwardAttempt> outcome;
        try
        {
            outcome = await cluster.Pipeline.ExecuteOutcomeAsync(static async (resilience, state) => Outcome.FromResult(await state.Forwarder.AttemptAsync(resilience, state)), resilience, state);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(resilience);
        }

        if (outcome.Exception is BrokenCircuitException broken)
        {
            var reason = $"upstream '{cluster.Name}' is failing: its circuit is open{(broken.RetryAfter is { } after ? $" for another {after.TotalSeconds:0.#} s" : "")}";
            LogCircuitOpen(logger, relativePath, cluster.Name);
            return await FailOrHoldBackAsync(context, responseHeaders, holdBackFailures, reason, OpenAiErrors.UpstreamCircuitOpen(cluster.Name, broken.RetryAfter));
        }

        outcome.ThrowIfException();
        var attempt = outcome.Result!;
        var attempts = state.Attempts;
        if (attempt.TooLarge is { } refusal)
        {
            LogTooLarge(logger, relativePath, model.Alias, cluster.Name, refusal);
            Reset(context.Response);
            return new(ForwardOutcome.RefusedAsTooLarge, refusal);
        }

        if (attempt.HeldBackStatus is { } status)
        {
            // A 5xx after the retries when the caller asked for failures to be held back, or a 429 whose Retry-After was too long to wait.
            var reason = $"upstream '{cluster.Name}' answered HTTP {status}{Tries(attempts)}";
            LogUpstreamStatus(logger, relativePath, cluster.Name, status, attempts);
            Reset(context.Response);
            return await FailOrHoldBackAsync(context, responseHeaders, holdBackFailures, reason,
                status == StatusCodes.Status429TooManyRequests ? OpenAiErrors.UpstreamRateLimited(cluster.Name, attempt.RetryAfter) : OpenAiErrors.UpstreamUnavailable(cluster.Name, reason));
        }

        if (attempt.Error == ForwarderError.None)
        {
            LogForwarded(logger, relativePath, model.Alias, cluster.Name, context.Response.StatusCode, attempts);
            return new(ForwardOutcome.Answered);
        }

        if (attempt.Error is ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled or ForwarderError.ResponseBodyCanceled or ForwarderError.UpgradeRequestCanceled
            && context.RequestAborted.IsCancellationRequested)
        {
            LogClientGone(logger, relativePath, cluster.Name, attempt.Error);
            return new(ForwardOutcome.ClientGone);
        }

        LogUpstreamFailed(logger, relativePath, cluster.Name, attempt.Error, attempt.Exception?.Message, attempts);
        if (attempt.ResponseStarted)
        {
            // Part of the answer is already with the client: the only honest signal left is an aborted stream.
            context.Abort();
            return new(ForwardOutcome.BrokenMidAnswer);
        }

        var timedOut = attempt.Error == ForwarderError.RequestTimedOut;
        var why = timedOut
            ? $"upstream '{cluster.Name}' did not answer in time{Tries(attempts)}"
            : $"upstream '{cluster.Name}' could not be reached{Tries(attempts)} ({attempt.Exception?.Message ?? attempt.Error.ToString()})";
        return await FailOrHoldBackAsync(context, responseHeaders, holdBackFailures, why, timedOut ? OpenAiErrors.UpstreamTimeout(cluster.Name) : OpenAiErrors.UpstreamUnavailable(cluster.Name, why));
    }

    /// <summary>The upstream is down: tell the client, or leave the response untouched and say why, with the error to give if no other route takes it.</summary>
    private static async Task<ForwardResult> FailOrHoldBackAsync(HttpContext context, IReadOnlyDictionary<string, string>? responseHeaders, bool holdBack, string reason, OpenAiErrorResult error)
    {
        if (holdBack)
        {
            Reset(context.Response);
            return new(ForwardOutcome.Unavailable, Failure: reason, FailureError: error);
        }

        return await FailAsync(context, responseHeaders, error, ForwardOutcome.Unreachable);
    }

    private static string Tries(int attempts) => attempts > 1 ? $" ({attempts} attempts)" : "";

    private static async Task<ForwardResult> FailAsync(HttpContext context, IReadOnlyDictionary<string, string>? responseHeaders, OpenAiErrorResult error, ForwardOutcome outcome)
    {
        Reset(context.Response);
        GatewayHeaders.Apply(context.Response, responseHeaders);
        await error.ExecuteAsync(context);
        return new(outcome);
    }

    private static void Reset(HttpResponse response)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.Headers.Clear();
    }

    /// <summary>One attempt: a fresh copy of the body, the next destination, and the cluster's first-byte timeout honoured until the headers arrive.</summary>
    private async Task<ForwardAttempt> AttemptAsync(ResilienceContext resilience, AttemptState state)
    {
        var context = state.Context;
        var cluster = state.Model.Cluster;
        var number = state.Attempts++;
        if (number > 0)
        {
            Reset(context.Response);
        }

        ReplaceRequestBody(context.Request, state.Body);
        var last = number >= cluster.MaxRetries;
        var transformer = new UpstreamRequestTransformer(
            state.RelativePath, cluster.ApiKey, state.UpstreamHeaders, state.ResponseHeaders, state.HoldBackTooLarge,
            holdBackRetryableStatus: !last, holdBackServerErrors: state.HoldBackFailures, time);
        using var attemptAborted = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        // The pipeline's timeout cancels this token; once the upstream's headers are in, the answer is streaming and is left alone.
        using var firstByte = resilience.CancellationToken.Register(() =>
        {
            if (!transformer.HeadersArrived)
            {
                attemptAborted.Cancel();
            }
        });
        var destination = cluster.NextDestination();
        var error = await forwarder.SendAsync(context, destination.Address, cluster.Invoker, cluster.RequestConfig, transformer, attemptAborted.Token);
        var exception = context.GetForwarderErrorFeature()?.Exception;
        if (error != ForwarderError.None && !transformer.HeadersArrived && resilience.CancellationToken.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            error = ForwarderError.RequestTimedOut;
        }

        return new ForwardAttempt(error, exception, context.Response.HasStarted, transformer.HeldBackStatus, transformer.RetryAfter, transformer.TooLarge);
    }

    private sealed class AttemptState(
        UpstreamForwarder forwarder,
        HttpContext context,
        ResolvedModel model,
        string relativePath,
        byte[] body,
        IReadOnlyDictionary<string, string> upstreamHeaders,
        IReadOnlyDictionary<string, string>? responseHeaders,
        bool holdBackTooLarge,
        bool holdBackFailures)
    {
        public UpstreamForwarder Forwarder { get; } = forwarder;

        public HttpContext Context { get; } = context;

        public ResolvedModel Model { get; } = model;

        public string RelativePath { get; } = relativePath;

        public byte[] Body { get; } = body;

        public IReadOnlyDictionary<string, string> UpstreamHeaders { get; } = upstreamHeaders;

        public IReadOnlyDictionary<string, string>? ResponseHeaders { get; } = responseHeaders;

        public bool HoldBackTooLarge { get; } = holdBackTooLarge;

        public bool HoldBackFailures { get; } = holdBackFailures;

        public int Attempts { get; set; }
    }

    private static byte[] Serialize(JsonObject body)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            body.WriteTo(writer);
        }

        return buffer.ToArray();
    }

    /// <summary>YARP streams the incoming body; give it the gateway's body instead (YARP's documented way to change a body).</summary>
    private static void ReplaceRequestBody(HttpRequest request, byte[] body)
    {
        request.Body = new MemoryStream(body, writable: false);
        request.ContentLength = body.Length;
        request.ContentType = "application/json";
        request.Headers.Remove("Transfer-Encoding");
        request.Headers.Remove("Content-Encoding");
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Forwarded {Path} for model {Model} to {Upstream}: {StatusCode} after {Attempts} attempt(s)")]
    private static partial void LogForwarded(ILogger logger, string path, string model, string upstream, int statusCode, int attempts);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Path} to {Upstream} not sent: the circuit is open after repeated failures")]
    private static partial void LogCircuitOpen(ILogger logger, string path, string upstream);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Path} to {Upstream} answered HTTP {StatusCode} after {Attempts} attempt(s)")]
    private static partial void LogUpstreamStatus(ILogger logger, string path, string upstream, int statusCode, int attempts);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Path} for model {Model} was refused by {Upstream} as too large for it ({Refusal}); routing elsewhere")]
    private static partial void LogTooLarge(ILogger logger, string path, string model, string upstream, string refusal);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Client went away during {Path} to {Upstream}: {Error}")]
    private static partial void LogClientGone(ILogger logger, string path, string upstream, ForwarderError error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Forwarding {Path} to {Upstream} failed: {Error} ({Reason}) after {Attempts} attempt(s)")]
    private static partial void LogUpstreamFailed(ILogger logger, string path, string upstream, ForwarderError error, string? reason, int attempts);
}

/// <summary>How a forwarded request ended; the upstream's refusal, or why it is unavailable, when that was held back.</summary>
internal readonly record struct ForwardResult(ForwardOutcome Outcome, string? Refusal = null, string? Failure = null, OpenAiErrorResult? FailureError = null);

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

    /// <summary>The upstream is down (unreachable, failing after the retries, circuit open); nothing was sent to the client.</summary>
    Unavailable,
}
