using Microsoft.Extensions.Options;

namespace LongContext.Gateway.Configuration;

/// <summary>Observability settings: the metrics path, the OTLP collector, the dashboard's admin keys.</summary>
internal sealed class TelemetryValidator : IValidateOptions<GatewaySettings>
{
    public ValidateOptionsResult Validate(string? name, GatewaySettings options)
    {
        var telemetry = options.Telemetry;
        var failures = new List<string>();
        if (!telemetry.MetricsPath.StartsWith('/') || telemetry.MetricsPath.StartsWith("/v1", StringComparison.OrdinalIgnoreCase))
        {
            failures.Add($"Telemetry:MetricsPath '{telemetry.MetricsPath}' must start with '/' and lie outside /v1.");
        }

        if (telemetry.OtlpEndpoint is { Length: > 0 } endpoint && !(Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
        {
            failures.Add($"Telemetry:OtlpEndpoint '{endpoint}' must be an absolute http(s) address of an OTLP collector.");
        }

        if (telemetry.OtlpProtocol is not ("Grpc" or "HttpProtobuf"))
        {
            failures.Add($"Telemetry:OtlpProtocol '{telemetry.OtlpProtocol}' must be Grpc or HttpProtobuf.");
        }

        for (var i = 0; i < options.Gateway.AdminKeyHashes.Count; i++)
        {
            var hash = options.Gateway.AdminKeyHashes[i];
            if (hash.Length != Tenancy.ApiKeyHash.HexLength || !hash.All(Uri.IsHexDigit))
            {
                failures.Add($"Gateway:AdminKeyHashes:{i} must be the SHA-256 of an admin key as {Tenancy.ApiKeyHash.HexLength} hex digits.");
            }
        }

        if (string.IsNullOrWhiteSpace(telemetry.ServiceName))
        {
            failures.Add("Telemetry:ServiceName must not be blank.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
