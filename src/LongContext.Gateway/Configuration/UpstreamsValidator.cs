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

            if (upstream.HealthPath.StartsWith('/') || Uri.TryCreate(upstream.HealthPath, UriKind.Absolute, out _))
            {
                failures.Add($"{ConfigKeys.Of("Upstreams", clusterName, "HealthPath")} must be a path relative to the destination address, without a leading '/' (was '{upstream.HealthPath}').");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
