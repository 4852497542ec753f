using LongContext.Gateway.Api;
using LongContext.Gateway.Dashboard;
using LongContext.Gateway.Health;
using Microsoft.AspNetCore.Diagnostics;

namespace LongContext.Gateway.Hosting;

/// <summary>Builds the gateway host: settings, services, pipeline, endpoints.</summary>
internal static class GatewayApp
{
    public static WebApplication Build(string[] args)
    {
        var settingsPath = SettingsFiles.Locate(args);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            // The host's default appsettings sources are replaced (SettingsFiles), and nothing is
            // reloaded on change: without this their file watcher stays on the content root,
            // recursively, and wakes for every write to the ledger and corpora under it.
            Args = ["--hostBuilder:reloadConfigOnChange=false", .. args],
            ContentRootPath = Path.GetDirectoryName(settingsPath),
        });
        builder.Configuration.UseSettingsFile(settingsPath);
        builder.AddGatewayServices();

        var app = builder.Build();
        app.UseExceptionHandler(errors => errors.Run(WriteUnhandledErrorAsync));
        // Routing's bare 404/405 answers get a body in OpenAI's shape, like every other error.
        app.UseStatusCodePages(pages => OpenAiErrors.ForStatus(pages.HttpContext.Response.StatusCode, pages.HttpContext.Request.Path).ExecuteAsync(pages.HttpContext));
        if (app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Configuration.GatewaySettings>>().Value.Gateway.CorsAllowedOrigins.Count > 0)
        {
            app.UseCors();
        }

        app.MapHealthApi();
        var telemetry = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Configuration.GatewaySettings>>().Value.Telemetry;
        if (telemetry.PrometheusEnabled)
        {
            app.MapPrometheusScrapingEndpoint(telemetry.MetricsPath);
        }

        app.MapOpenAiApi();
        Proxy.PassthroughApi.MapPassthrough(app);
        app.MapDashboard();
        return app;
    }

    private static Task WriteUnhandledErrorAsync(HttpContext context)
    {
        // Kestrel's own rejections (body too large, bad framing) carry their status; anything else is ours: 500.
        var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
        var status = error is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError;
        return OpenAiErrors.ForStatus(status, context.Request.Path).ExecuteAsync(context);
    }
}
