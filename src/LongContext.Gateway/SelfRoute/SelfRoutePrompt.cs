using LongContext.Gateway.Configuration;
using LongContext.Gateway.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.SemanticKernel;

namespace LongContext.Gateway.SelfRoute;

/// <summary>
/// The RAG-and-route instruction (Routing:Hybrid:PromptTemplate), a Semantic Kernel prompt
/// template read once at start: it must use {{$context}} (the retrieved, positioned chunks) and
/// {{$marker}} (the exact reply for "the chunks cannot answer"); {{$question}} is available too.
/// </summary>
internal sealed class SelfRoutePrompt
{
    private readonly IPromptTemplate _template;
    private readonly Kernel _kernel = new();

    public SelfRoutePrompt(IOptions<GatewaySettings> settings, IHostEnvironment environment)
    {
        var hybrid = settings.Value.Routing.Hybrid;
        Marker = hybrid.Marker;
        var path = Path.GetFullPath(hybrid.PromptTemplate, environment.ContentRootPath);
        if (!File.Exists(path))
        {
            throw new GatewayStartupException($"Routing:Hybrid:PromptTemplate names '{hybrid.PromptTemplate}', but no such file exists (looked for {path}).");
        }

        var text = File.ReadAllText(path);
        foreach (var variable in new[] { "context", "marker" })
        {
            if (!text.Contains("{{$" + variable + "}}", StringComparison.Ordinal))
            {
                throw new GatewayStartupException($"Routing:Hybrid:PromptTemplate ({path}) must use {{{{${variable}}}}}.");
            }
        }

        // The rendered text is one system message's content, never parsed back into chat roles,
        // so the chunks go in as they are (Semantic Kernel would otherwise HTML-encode them).
        var config = new PromptTemplateConfig(text) { AllowDangerouslySetContent = true };
        try
        {
            _template = new KernelPromptTemplateFactory().Create(config);
        }
        catch (KernelException e)
        {
            throw new GatewayStartupException($"Routing:Hybrid:PromptTemplate ({path}) is not a valid prompt template: {e.Message}");
        }
    }

    /// <summary>The exact reply that means "the chunks cannot answer".</summary>
    public string Marker { get; }

    public Task<string> RenderAsync(string context, string question, CancellationToken cancellationToken) =>
        _template.RenderAsync(_kernel, new KernelArguments { ["context"] = context, ["marker"] = Marker, ["question"] = question }, cancellationToken);
}
