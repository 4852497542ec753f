using System.Threading.RateLimiting;
using LongContext.Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace LongContext.Gateway.Tenancy;

/// <summary>
/// Each tenant's requests-per-minute and tokens-per-minute buckets (System.Threading.RateLimiting
/// token buckets, refilled every second by a sixtieth of the limit, never queueing: a request
/// that finds its bucket short is refused at once with the time until it would fit).
/// </summary>
internal sealed class TenantRateLimiter : IDisposable
{
    private readonly Dictionary<string, (TokenBucketRateLimiter? Requests, TokenBucketRateLimiter? Tokens, int? TokenLimit)> _buckets;

    public TenantRateLimiter(IOptions<GatewaySettings> settings) =>
        _buckets = settings.Value.Tenants.ToDictionary(
            pair => pair.Key,
            pair => (Bucket(pair.Value.RateLimits.RequestsPerMinute), Bucket(pair.Value.RateLimits.TokensPerMinute), pair.Value.RateLimits.TokensPerMinute),
            StringComparer.Ordinal);

    /// <summary>Takes one request from the tenant's bucket; the refusal says when to come back.</summary>
    public RateLimitVerdict AdmitRequest(string tenant) =>
        _buckets.TryGetValue(tenant, out var buckets) && buckets.Requests is { } bucket ? Take(bucket, 1, "requests") : RateLimitVerdict.Admitted;

    /// <summary>Takes a request's tokens from the tenant's bucket; a request larger than the whole limit can never pass and says so.</summary>
    public RateLimitVerdict AdmitTokens(string tenant, long tokens)
    {
        if (!_buckets.TryGetValue(tenant, out var buckets) || buckets.Tokens is not { } bucket)
        {
            return RateLimitVerdict.Admitted;
        }

        return tokens > buckets.TokenLimit
            ? new RateLimitVerdict(false, null, $"the request needs up to {tokens:N0} tokens, more than the tenant's whole limit of {buckets.TokenLimit:N0} tokens per minute")
            : Take(bucket, (int)tokens, "tokens");
    }

    private static RateLimitVerdict Take(TokenBucketRateLimiter bucket, int permits, string what)
    {
        using var lease = bucket.AttemptAcquire(permits);
        if (lease.IsAcquired)
        {
            return RateLimitVerdict.Admitted;
        }

        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
        return new RateLimitVerdict(false, retryAfter, $"the tenant's {what}-per-minute limit is used up");
    }

    private static TokenBucketRateLimiter? Bucket(int? perMinute) => perMinute is { } limit
        ? new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = limit,
            TokensPerPeriod = Math.Max(1, (int)Math.Ceiling(limit / 60.0)),
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        })
        : null;

    public void Dispose()
    {
        foreach (var (requests, tokens, _) in _buckets.Values)
        {
            requests?.Dispose();
            tokens?.Dispose();
        }
    }
}

/// <summary>Whether a request may go on; when not, why and (unless it never can) after how long.</summary>
internal sealed record RateLimitVerdict(bool Allowed, TimeSpan? RetryAfter, string? Reason)
{
    public static RateLimitVerdict Admitted { get; } = new(true, null, null);
}
