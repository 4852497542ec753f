using System.Net;
using System.Net.Http.Headers;
using LongContext.Gateway.Configuration;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;
using Yarp.ReverseProxy.Forwarder;

namespace LongContext.Gateway.Proxy;

/// <summary>
/// What one attempt to forward ended with. <see cref="HeldBackStatus"/> is set when the upstream
/// answered 429 or 5xx and the answer was kept from the client so the attempt could be repeated.
/// </summary>
internal sealed record ForwardAttempt(ForwarderError Error, Exception? Exception, bool ResponseStarted, int? HeldBackStatus, TimeSpan? RetryAfter, string? TooLarge)
{
    /// <summary>The connection was never made, so the upstream saw nothing of the request.</summary>
    public bool CouldNotConnect =>
        Error == ForwarderError.Request && Exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError };

    /// <summary>Safe to send again: nothing reached the client, and the upstream either never got the request or refused it whole.</summary>
    public bool Retryable => !ResponseStarted && (CouldNotConnect || HeldBackStatus is not null);

    /// <summary>Counts against the upstream's health: no connection, no answer in time, or a 5xx.</summary>
    public bool IsFailure =>
        CouldNotConnect || Error is ForwarderError.RequestTimedOut || (Error == ForwarderError.Request && !ResponseStarted)
        || HeldBackStatus is >= 500;
}

/// <summary>
/// The cluster's Polly pipeline around each forward: retries with exponential backoff and jitter
/// (honouring a 429's Retry-After up to a cap) for attempts that are safe to repeat, a circuit
/// breaker that fails fast while the upstream is unhealthy, and a first-byte timeout per attempt.
/// </summary>
internal static class UpstreamResilience
{
    /// <summary>Set on the pipeline's context for each attempt: the attempt number, from 0.</summary>
    public static readonly ResiliencePropertyKey<int> Attempt = new("lcg.attempt");

    public static ResiliencePipeline<ForwardAttempt> Build(string cluster, ResilienceConfig config, TimeProvider time)
    {
        var builder = new ResiliencePipelineBuilder<ForwardAttempt> { Name = cluster, TimeProvider = time };
        if (config.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<ForwardAttempt>
            {
                MaxRetryAttempts = config.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = config.RetryBaseDelay,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Result is { Retryable: true } attempt
                    && !(attempt.RetryAfter > config.MaxRetryAfter)),
                // A 429's Retry-After, when the upstream gave one, instead of the computed delay.
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Result?.RetryAfter),
                OnRetry = args =>
                {
                    args.Context.Properties.Set(Attempt, args.AttemptNumber + 1);
                    return ValueTask.CompletedTask;
                },
            });
        }

        if (config.CircuitBreaker.Enabled)
        {
            builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions<ForwardAttempt>
            {
                FailureRatio = config.CircuitBreaker.FailureRatio,
                MinimumThroughput = config.CircuitBreaker.MinimumThroughput,
                SamplingDuration = config.CircuitBreaker.SamplingDuration,
                BreakDuration = config.CircuitBreaker.BreakDuration,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Result is { IsFailure: true } || args.Outcome.Exception is TimeoutRejectedException),
            });
        }

        if (config.FirstByteTimeout is { } firstByte)
        {
            builder.AddTimeout(firstByte);
        }

        return builder.Build();
    }

    /// <summary>A 429's Retry-After as a delay (seconds or an HTTP date), or null.</summary>
    public static TimeSpan? RetryAfterOf(HttpResponseMessage response, TimeProvider time)
    {
        if (response.StatusCode != HttpStatusCode.TooManyRequests || response.Headers.RetryAfter is not RetryConditionHeaderValue retryAfter)
        {
            return null;
        }

        var delay = retryAfter.Delta ?? (retryAfter.Date is { } date ? date - time.GetUtcNow() : null);
        return delay is { } d && d > TimeSpan.Zero ? d : TimeSpan.Zero;
    }
}
