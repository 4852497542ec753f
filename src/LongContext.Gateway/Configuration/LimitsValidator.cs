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

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
