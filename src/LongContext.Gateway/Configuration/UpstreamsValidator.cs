using Microsoft.Extensions.Options;

namespace LongContext.Gateway.Configuration;

internal sealed class UpstreamsValidator : IValidateOptions<GatewaySettings>
{
    public ValidateOptionsResult Validate(string? name, GatewaySettings options)
    {
        var failures = new List<string>();
        if (options.Upstreams.Count == 0)
        {
            failures.Add("Upstreams must define at least one upstream cluster.");
        }

        var passthrough = options.Gateway.Passthrough;
        if (passthrough.Upstream is { } target && !options.Upstreams.ContainsKey(target))
        {
            failures.Add($"{ConfigKeys.Of("Gateway", "Passthrough", "Upstream")} names '{target}', which is not defined under Upstreams.");
        }

        if (passthrough.Upstream is not null && (!passthrough.PathPrefix.StartsWith('/') || passthrough.PathPrefix.Length < 2 || passthrough.PathPrefix.EndsWith('/')
            || passthrough.PathPrefix.StartsWith("/v1", StringComparison.OrdinalIgnoreCase) || passthrough.PathPrefix.StartsWith("/api", StringComparison.OrdinalIgnoreCase)))
        {
            failures.Add($"{ConfigKeys.Of("Gateway", "Passthrough", "PathPrefix")} must be a path like /passthrough, outside /v1 and /api (was '{passthrough.PathPrefix}').");
        }

        foreach (var (clusterName, upstream) in options.Upstreams)
        {
            if (upstream.Destinations.Count == 0)
            {
                failures.Add($"{ConfigKeys.Of("Upstreams", clusterName, "Destinations")} must list at least one destination.");
            }

            foreach (var (destinationName, destination) in upstream.Destinations)
            {
                if (!Uri.TryCreate(destination.Address, UriKind.Absolute, out var uri)
                    || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                {
                    failures.Add($"{ConfigKeys.Of("Upstreams", clusterName, "Destinations", destinationName, "Address")} must be an absolute http(s) URL (was '{destination.Address}').");
                }
            }

            if (upstream.ActivityTimeout <= TimeSpan.Zero)
            {
                failures.Add($"{ConfigKeys.Of("Upstreams", clusterName, "ActivityTimeout")} must be positive (was {upstream.ActivityTimeout}).");
            }

            if (upstream.ConnectTimeout <= TimeSpan.Zero)
            {
                failures.Add($"{ConfigKeys.Of("Upstreams", clusterName, "ConnectTimeout")} must be positive (was {upstream.ConnectTimeout}).");
            }

            ValidateResilience(clusterName, upstream.Resilience, failures);

            if (upstream.HealthPath.StartsWith('/') || Uri.TryCreate(upstream.HealthPath, UriKind.Absolute, out _))
            {
                failures.Add($"{ConfigKeys.Of("Upstreams", clusterName, "HealthPath")} must be a path relative to the destination address, without a leading '/' (was '{upstream.HealthPath}').");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void ValidateResilience(string cluster, ResilienceConfig resilience, List<string> failures)
    {
        string Key(params string[] path) => ConfigKeys.Of(["Upstreams", cluster, "Resilience", .. path]);
        if (resilience.MaxRetries is < 0 or > 10)
        {
            failures.Add($"{Key("MaxRetries")} must be between 0 and 10 (was {resilience.MaxRetries}).");
        }

        if (resilience.RetryBaseDelay < TimeSpan.Zero || resilience.RetryBaseDelay > TimeSpan.FromMinutes(1))
        {
            failures.Add($"{Key("RetryBaseDelay")} must be between 0 and 1 minute (was {resilience.RetryBaseDelay}).");
        }

        if (resilience.MaxRetryAfter < TimeSpan.Zero)
        {
            failures.Add($"{Key("MaxRetryAfter")} must not be negative (was {resilience.MaxRetryAfter}).");
        }

        if (resilience.FirstByteTimeout is { } firstByte && firstByte <= TimeSpan.Zero)
        {
            failures.Add($"{Key("FirstByteTimeout")} must be positive when set (was {firstByte}).");
        }

        var breaker = resilience.CircuitBreaker;
        if (breaker.FailureRatio is <= 0 or > 1)
        {
            failures.Add($"{Key("CircuitBreaker", "FailureRatio")} must be above 0 and at most 1 (was {breaker.FailureRatio}).");
        }

        if (breaker.MinimumThroughput < 2)
        {
            failures.Add($"{Key("CircuitBreaker", "MinimumThroughput")} must be at least 2 (was {breaker.MinimumThroughput}).");
        }

        if (breaker.SamplingDuration < TimeSpan.FromMilliseconds(500))
        {
            failures.Add($"{Key("CircuitBreaker", "SamplingDuration")} must be at least 0.5 seconds (was {breaker.SamplingDuration}).");
        }

        if (breaker.BreakDuration < TimeSpan.FromMilliseconds(500))
        {
            failures.Add($"{Key("CircuitBreaker", "BreakDuration")} must be at least 0.5 seconds (was {breaker.BreakDuration}).");
        }
    }
}
