using System.Text.Json.Serialization;

namespace LongContext.Gateway.Api;

/// <summary>OpenAI's error body: <c>{"error":{"message","type","param","code"}}</c>.</summary>
internal sealed record OpenAiErrorBody([property: JsonPropertyName("error")] OpenAiError Error);

internal sealed record OpenAiError(
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("param")] string? Param,
    [property: JsonPropertyName("code")] string? Code);

/// <summary>An error response in OpenAI's shape.</summary>
internal sealed class OpenAiErrorResult(int statusCode, OpenAiError error, TimeSpan? retryAfter = null) : IResult, IStatusCodeHttpResult
{
    /// <summary>Sent as Retry-After (whole seconds, at least 1) when set.</summary>
    public TimeSpan? RetryAfter => retryAfter;

    public int StatusCode => statusCode;

    int? IStatusCodeHttpResult.StatusCode => statusCode;

    public OpenAiError Error => error;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = statusCode;
        if (statusCode == StatusCodes.Status401Unauthorized)
        {
            response.Headers.WWWAuthenticate = "Bearer";
        }

        if (retryAfter is { } after)
        {
            response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(after.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return response.WriteAsJsonAsync(new OpenAiErrorBody(error), GatewayJsonContext.Relaxed.OpenAiErrorBody, contentType: "application/json");
    }
}

/// <summary>The errors the gateway itself answers with; upstream errors pass through as the upstream wrote them.</summary>
internal static class OpenAiErrors
{
    private const string InvalidRequest = "invalid_request_error";

    public static OpenAiErrorResult MissingApiKey() => new(
        StatusCodes.Status401Unauthorized,
        new("You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'.", InvalidRequest, null, "missing_api_key"));

    public static OpenAiErrorResult InvalidApiKey() => new(
        StatusCodes.Status401Unauthorized,
        new("Incorrect API key provided.", InvalidRequest, null, "invalid_api_key"));

    /// <summary>Same answer for an unknown model and a model the tenant may not use: existence is not disclosed.</summary>
    public static OpenAiErrorResult ModelNotFound(string model) => new(
        StatusCodes.Status404NotFound,
        new($"The model '{model}' does not exist or you do not have access to it.", InvalidRequest, "model", "model_not_found"));

    public static OpenAiErrorResult WrongModelKind(string model, string expected) => new(
        StatusCodes.Status400BadRequest,
        new($"The model '{model}' is not {expected} model.", InvalidRequest, "model", "invalid_value"));

    public static OpenAiErrorResult InvalidJson(string detail) => new(
        StatusCodes.Status400BadRequest,
        new($"We could not parse the JSON body of your request: {detail}", InvalidRequest, null, "invalid_json"));

    public static OpenAiErrorResult BodyTooLarge(long limit) => new(
        StatusCodes.Status413PayloadTooLarge,
        new($"The request body exceeds the limit of {limit} bytes.", InvalidRequest, null, "request_too_large"));

    public static OpenAiErrorResult MissingParameter(string param) => new(
        StatusCodes.Status400BadRequest,
        new($"Missing required parameter: '{param}'.", InvalidRequest, param, "missing_required_parameter"));

    public static OpenAiErrorResult InvalidType(string param, string expected) => new(
        StatusCodes.Status400BadRequest,
        new($"Invalid type for '{param}': expected {expected}.", InvalidRequest, param, "invalid_type"));

    public static OpenAiErrorResult InvalidValue(string param, string message) => new(
        StatusCodes.Status400BadRequest,
        new($"Invalid value for '{param}': {message}", InvalidRequest, param, "invalid_value"));

    public static OpenAiErrorResult UpstreamUnavailable(string upstream) => new(
        StatusCodes.Status502BadGateway,
        new($"The upstream '{upstream}' could not be reached or failed to answer.", "upstream_error", null, "upstream_unavailable"));

    public static OpenAiErrorResult UpstreamUnavailable(string upstream, string reason) => new(
        StatusCodes.Status502BadGateway,
        new($"The upstream '{upstream}' failed: {reason}.", "upstream_error", null, "upstream_unavailable"));

    /// <summary>503 while the upstream's circuit is open: the gateway does not send it requests until the break is over.</summary>
    public static OpenAiErrorResult UpstreamCircuitOpen(string upstream, TimeSpan? retryAfter) => new(
        StatusCodes.Status503ServiceUnavailable,
        new($"The upstream '{upstream}' is failing and is given a break; no other route could take the request. Retry later.", "upstream_error", null, "upstream_circuit_open"),
        retryAfter ?? TimeSpan.FromSeconds(1));

    /// <summary>429 when the upstream kept answering 429 (its Retry-After passed on).</summary>
    public static OpenAiErrorResult UpstreamRateLimited(string upstream, TimeSpan? retryAfter) => new(
        StatusCodes.Status429TooManyRequests,
        new($"The upstream '{upstream}' is rate limiting the gateway; retry later.", "upstream_error", null, "upstream_rate_limited"),
        retryAfter ?? TimeSpan.FromSeconds(1));

    /// <summary>429 as OpenAI words its rate limits, with Retry-After when waiting helps.</summary>
    public static OpenAiErrorResult RateLimited(string reason, TimeSpan? retryAfter) => new(
        StatusCodes.Status429TooManyRequests,
        new($"Rate limit reached: {reason}." + (retryAfter is { } after ? $" Please try again in {Math.Max(1, Math.Ceiling(after.TotalSeconds)):0}s." : ""), "requests", null, "rate_limit_exceeded"),
        retryAfter);

    public static OpenAiErrorResult UpstreamTimeout(string upstream) => new(
        StatusCodes.Status504GatewayTimeout,
        new($"The upstream '{upstream}' did not answer in time.", "upstream_error", null, "upstream_timeout"));

    /// <summary>429 like a provider's quota error, saying what the request needs and what is left.</summary>
    public static OpenAiErrorResult BudgetExceeded(string message) => new(
        StatusCodes.Status429TooManyRequests,
        new(message, "insufficient_quota", null, "budget_exceeded"));

    /// <summary>A configured model whose upstream is out of use (disabled, or a provider without its key).</summary>
    public static OpenAiErrorResult ModelUnavailable(string model, string reason) => new(
        StatusCodes.Status503ServiceUnavailable,
        new($"The model '{model}' is not available: {reason}.", "server_error", "model", "model_unavailable"));

    public static OpenAiErrorResult NoFeasibleRoute(string explanation) => new(
        StatusCodes.Status400BadRequest,
        new("No route can serve this request: " + explanation, InvalidRequest, null, "no_feasible_route"));

    public static OpenAiErrorResult ForStatus(int statusCode, string path) => statusCode switch
    {
        StatusCodes.Status404NotFound => new(statusCode, new($"Unknown request URL: {path}.", InvalidRequest, null, "unknown_url")),
        StatusCodes.Status405MethodNotAllowed => new(statusCode, new($"Method not allowed for {path}.", InvalidRequest, null, "method_not_allowed")),
        StatusCodes.Status413PayloadTooLarge => new(statusCode, new("The request body is too large.", InvalidRequest, null, "request_too_large")),
        >= 500 => new(statusCode, new("The gateway failed to process the request.", "server_error", null, null)),
        _ => new(statusCode, new($"The request could not be processed (HTTP {statusCode}).", InvalidRequest, null, null)),
    };
}
