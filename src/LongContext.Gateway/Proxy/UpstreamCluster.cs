using System.Diagnostics;
using System.Net;
using LongContext.Gateway.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace LongContext.Gateway.Proxy;

/// <summary>One upstream cluster: its destinations, the connection pool shared by them, and its limits.</summary>
internal sealed class UpstreamCluster : IDisposable
{
    private readonly Destination[] _destinations;
    private readonly SocketsHttpHandler _handler;
    private int _next = -1;

    public UpstreamCluster(string name, UpstreamConfig config, TimeProvider time)
    {
        Pipeline = UpstreamResilience.Build(name, config.Resilience, time);
        MaxRetries = config.Resilience.MaxRetries;
        Name = name;
        UnavailableBecause = config.UnavailableBecause(name);
        ApiKey = string.IsNullOrEmpty(config.ApiKey) ? null : config.ApiKey;
        HealthPath = config.HealthPath;
        RequestConfig = new ForwarderRequestConfig { ActivityTimeout = config.ActivityTimeout };
        _destinations = [.. config.Destinations.Select(pair => new Destination(pair.Key, WithTrailingSlash(pair.Value.Address)))];
        _handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            EnableMultipleHttp2Connections = true,
            ConnectTimeout = config.ConnectTimeout,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            ActivityHeadersPropagator = new ReverseProxyPropagator(DistributedContextPropagator.Current),
        };
        Invoker = new HttpMessageInvoker(_handler, disposeHandler: true);
        ActivityTimeout = config.ActivityTimeout;
    }

    /// <summary>Retries, circuit breaker and first-byte timeout around each forward to this cluster.</summary>
    public Polly.ResiliencePipeline<ForwardAttempt> Pipeline { get; }

    public int MaxRetries { get; }

    /// <summary>How long the upstream may stay silent before the gateway gives up on it.</summary>
    public TimeSpan ActivityTimeout { get; }

    /// <summary>An HttpClient over the cluster's connection pool (for clients other than the forwarder); disposing it leaves the pool open.</summary>
    public HttpClient CreateHttpClient() => new(_handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };

    public string Name { get; }

    public string? ApiKey { get; }

    /// <summary>Why the cluster is out of use (disabled, or a provider without its key); null when usable.</summary>
    public string? UnavailableBecause { get; }

    public string HealthPath { get; }

    public ForwarderRequestConfig RequestConfig { get; }

    public HttpMessageInvoker Invoker { get; }

    public IReadOnlyList<Destination> Destinations => _destinations;

    /// <summary>Spreads requests over the destinations in turn.</summary>
    public Destination NextDestination()
    {
        var index = (uint)Interlocked.Increment(ref _next) % (uint)_destinations.Length;
        return _destinations[index];
    }

    public void Dispose() => Invoker.Dispose();

    private static string WithTrailingSlash(string address) => address.EndsWith('/') ? address : address + "/";
}

/// <summary>A destination's base address always ends in '/', so relative API paths append to it.</summary>
internal sealed record Destination(string Name, string Address);
