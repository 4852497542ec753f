using Microsoft.Extensions.Options;

namespace LongContext.Gateway.Configuration;

internal sealed class ModelsValidator : IValidateOptions<GatewaySettings>
{
    public ValidateOptionsResult Validate(string? name, GatewaySettings options)
    {
        var failures = new List<string>();
        if (options.Models.Count == 0)
        {
            failures.Add("Models must define at least one model alias.");
        }

        foreach (var (alias, model) in options.Models)
        {
            if (string.IsNullOrWhiteSpace(model.Upstream))
            {
                failures.Add($"{ConfigKeys.Of("Models", alias, "Upstream")} is required: name one of the clusters under Upstreams.");
            }
            else if (!options.Upstreams.ContainsKey(model.Upstream))
            {
                failures.Add($"{ConfigKeys.Of("Models", alias, "Upstream")} names '{model.Upstream}', which is not defined under Upstreams (defined: {string.Join(", ", options.Upstreams.Keys)}).");
            }

            if (model.UpstreamModel is { } upstreamModel && string.IsNullOrWhiteSpace(upstreamModel))
            {
                failures.Add($"{ConfigKeys.Of("Models", alias, "UpstreamModel")} must not be blank; leave it out to send the alias itself.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
