using System.Net;
using System.Net.Http.Headers;
using Yarp.ReverseProxy.Forwarder;

namespace LongContext.Gateway.Proxy;

/// <summary>
/// Shapes the outgoing request: the upstream's own path and credentials replace the client's.
/// The tenant's key, the client's OpenAI account headers and the gateway's own X-LCG-* headers
/// never leave the gateway; the response gets the gateway's headers added to the upstream's.
/// </summary>
internal sealed class UpstreamRequestTransformer(
    string relativePath,
    string? upstreamApiKey,
    IReadOnlyDictionary<string, string>? upstreamHeaders = null,
    IReadOnlyDictionary<string, string>? responseHeaders = null,
    bool holdBackTooLarge = false,
    bool holdBackRetryableStatus = false,
    bool holdBackServerErrors = false,
    TimeProvider? time = null) : HttpTransformer
{
    private static readonly string[] ClientOnlyHeaders = ["Authorization", "OpenAI-Organization", "OpenAI-Project", "Cookie"];

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);

        foreach (var header in ClientOnlyHeaders)
        {
            proxyRequest.Headers.Remove(header);
        }

        foreach (var header in proxyRequest.Headers.Where(h => h.Key.StartsWith(GatewayHeaders.Prefix, StringComparison.OrdinalIgnoreCase)).Select(h => h.Key).ToList())
        {
            proxyRequest.Headers.Remove(header);
        }

        foreach (var (name, value) in upstreamHeaders ?? GatewayHeaders.None)
        {
            proxyRequest.Headers.Remove(name);
            proxyRequest.Headers.TryAddWithoutValidation(name, value);
        }

        proxyRequest.Headers.Host = null;
        if (upstreamApiKey is not null)
        {
            proxyRequest.Headers.Authorization = new AuthenticationHeaderValue("Bearer", upstreamApiKey);
        }

        proxyRequest.RequestUri = new Uri(destinationPrefix + relativePath, UriKind.Absolute);
    }

    /// <summary>Set when the upstream refused the request as too large for it and the refusal was held back from the client.</summary>
    public string? TooLarge { get; private set; }

    /// <summary>Set when the upstream answered 429 or 5xx and the answer was held back (to try again, or a 5xx to route elsewhere).</summary>
    public int? HeldBackStatus { get; private set; }

    /// <summary>The held-back 429's Retry-After.</summary>
    public TimeSpan? RetryAfter { get; private set; }

    /// <summary>Whether the upstream's response headers have arrived (from then on the answer is the client's).</summary>
    public bool HeadersArrived { get; private set; }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        HeadersArrived = proxyResponse is not null;
        if (proxyResponse is { StatusCode: var status }
            && ((holdBackRetryableStatus && status is HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError)
                || (holdBackServerErrors && status >= HttpStatusCode.InternalServerError)))
        {
            HeldBackStatus = (int)proxyResponse.StatusCode;
            RetryAfter = UpstreamResilience.RetryAfterOf(proxyResponse, time ?? TimeProvider.System);
            return false;
        }

        if (holdBackTooLarge && proxyResponse is not null && await TooLargeRefusal.ReadAsync(proxyResponse, cancellationToken) is { } refusal)
        {
            // Nothing of this answer reaches the client (no headers, no body): the gateway routes the request elsewhere.
            TooLarge = refusal;
            return false;
        }

        var proceed = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        GatewayHeaders.Apply(httpContext.Response, responseHeaders);
        return proceed;
    }
}

/// <summary>The gateway's own headers: X-LCG-* on responses (route, decision, cost, recall), and the client's route override.</summary>
internal static class GatewayHeaders
{
    public const string Prefix = "X-LCG-";
    public const string Route = "X-LCG-Route";
    public const string DecisionId = "X-LCG-Decision-Id";
    public const string Candidate = "X-LCG-Candidate";
    public const string EstimatedCost = "X-LCG-Estimated-Cost-Usd";
    public const string ExpectedRecall = "X-LCG-Expected-Recall";
    public const string BudgetRemaining = "X-LCG-Budget-Remaining-Usd";

    /// <summary>Sent by the client: the corpus (vector store id) to answer from.</summary>
    public const string Corpus = "X-LCG-Corpus";

    /// <summary>Sent to the self-hosted backend: the attention method routing chose.</summary>
    public const string Attention = "X-LCG-Attention";

    /// <summary>Hybrid: whether the RAG step's chunks could not answer and the long-context step answered instead.</summary>
    public const string Escalated = "X-LCG-Escalated";

    /// <summary>The candidates whose upstreams refused the request as too large before the one that answered, comma-separated.</summary>
    public const string ReroutedFrom = "X-LCG-Rerouted-From";

    public static IReadOnlyDictionary<string, string> None { get; } = new Dictionary<string, string>();

    public static void Apply(HttpResponse response, IReadOnlyDictionary<string, string>? headers)
    {
        foreach (var (name, value) in headers ?? None)
        {
            response.Headers[name] = value;
        }
    }
}
