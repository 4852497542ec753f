using Microsoft.Extensions.Options;

namespace LongContext.Gateway.Configuration;

internal sealed class LimitsValidator : IValidateOptions<GatewaySettings>
{
    private const long MinBodyBytes = 1024;
    private const long MaxBodyBytes = 1L << 30;

    public ValidateOptionsResult Validate(string? name, GatewaySettings options)
    {
        var failures = new List<string>();
        var limits = options.Gateway.Limits;
        if (limits.MaxRequestBodyBytes is < MinBodyBytes or > MaxBodyBytes)
        {
            failures.Add($"{ConfigKeys.Of("Gateway", "Limits", "MaxRequestBodyBytes")} must be between {MinBodyBytes} and {MaxBodyBytes} bytes (was {limits.MaxRequestBodyBytes}).");
        }

        if (limits.MaxJsonDepth is < 8 or > 1024)
        {
            failures.Add($"{ConfigKeys.Of("Gateway", "Limits", "MaxJsonDepth")} must be between 8 and 1024 (was {limits.MaxJsonDepth}).");
        }

        if (limits.RequestHeadersTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{ConfigKeys.Of("Gateway", "Limits", "RequestHeadersTimeout")} must be positive (was {limits.RequestHeadersTimeout}).");
        }

        if (limits.MinRequestBodyBytesPerSecond <= 0)
        {
            failures.Add($"{ConfigKeys.Of("Gateway", "Limits", "MinRequestBodyBytesPerSecond")} must be positive (was {limits.MinRequestBodyBytesPerSecond}).");
        }

        if (limits.MinRequestBodyGracePeriod <= TimeSpan.FromSeconds(1))
        {
            failures.Add($"{ConfigKeys.Of("Gateway", "Limits", "MinRequestBodyGracePeriod")} must be longer than 1 second (was {limits.MinRequestBodyGracePeriod}).");
        }

        for (var i = 0; i < options.Gateway.CorsAllowedOrigins.Count; i++)
        {
            var origin = options.Gateway.CorsAllowedOrigins[i];
            if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || uri.AbsolutePath != "/" || origin.EndsWith('/'))
            {
                failures.Add($"{ConfigKeys.Of("Gateway", "CorsAllowedOrigins", i)} must be an origin like https://app.example.com (scheme, host and port only; was '{origin}').");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
