using System.Collections.Concurrent;
using LongContext.Gateway.Proxy;
using Microsoft.SemanticKernel;

namespace LongContext.Gateway.SelfRoute;

/// <summary>
/// One Semantic Kernel per upstream model and destination, its OpenAI connector pointed at the
/// gateway's upstream cluster for that model (the cluster's address, key, headers and connection pool).
/// </summary>
internal sealed class SelfRouteKernels : IDisposable
{
    private readonly ConcurrentDictionary<(string Model, string Destination), Lazy<(Kernel Kernel, HttpClient Http)>> _kernels = new();

    /// <summary>The kernel for the model's next destination (the cluster's round robin).</summary>
    public Kernel For(ResolvedModel model)
    {
        var destination = model.Cluster.NextDestination();
        return _kernels.GetOrAdd((model.Alias, destination.Name), _ => new(() => Build(model, destination))).Value.Kernel;
    }

    public void Dispose()
    {
        foreach (var kernel in _kernels.Values.Where(k => k.IsValueCreated))
        {
            kernel.Value.Http.Dispose();
        }
    }

    private static (Kernel, HttpClient) Build(ResolvedModel model, Destination destination)
    {
        var http = model.Cluster.CreateHttpClient();
        foreach (var (name, value) in model.UpstreamHeaders)
        {
            http.DefaultRequestHeaders.TryAddWithoutValidation(name, value);
        }

        var builder = Kernel.CreateBuilder();
        // A keyless upstream (the self-hosted backend) ignores the placeholder the connector requires.
        builder.AddOpenAIChatCompletion(model.UpstreamModel, new Uri(destination.Address), model.Cluster.ApiKey ?? "no-key", httpClient: http);
        return (builder.Build(), http);
    }
}
