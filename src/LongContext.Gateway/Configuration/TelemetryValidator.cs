using Microsoft.Extensions.Options;

namespace LongContext.Gateway.Configuration;

/// <summary>Telemetry settings: the metrics path and the OTLP collector.</summary>
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

        if (string.IsNullOrWhiteSpace(telemetry.ServiceName))
        {
            failures.Add("Telemetry:ServiceName must not be blank.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
