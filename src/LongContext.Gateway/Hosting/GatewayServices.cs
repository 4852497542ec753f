using LongContext.Gateway.Accounting;
using LongContext.Gateway.Api;
using LongContext.Gateway.Configuration;
using LongContext.Gateway.Health;
using LongContext.Gateway.Proxy;
using LongContext.Gateway.Routing;
using LongContext.Gateway.Tenancy;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace LongContext.Gateway.Hosting;

internal static class GatewayServices
{
    public static WebApplicationBuilder AddGatewayServices(this WebApplicationBuilder builder)
    {
        var services = builder.Services;

        services.AddOptions<GatewaySettings>()
            .Bind(builder.Configuration)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<GatewaySettings>, LimitsValidator>();
        services.AddSingleton<IValidateOptions<GatewaySettings>, UpstreamsValidator>();
        services.AddSingleton<IValidateOptions<GatewaySettings>, ModelsValidator>();
        services.AddSingleton<IValidateOptions<GatewaySettings>, TenantsValidator>();
        services.AddSingleton<IValidateOptions<GatewaySettings>, RoutingValidator>();
        services.AddSingleton<IValidateOptions<GatewaySettings>, LedgerValidator>();
        services.AddSingleton<IValidateOptions<GatewaySettings>, CorporaValidator>();
        services.AddSingleton<IValidateOptions<GatewaySettings>, TelemetryValidator>();

        services.AddOptions<KestrelServerOptions>()
            .Configure<IOptions<GatewaySettings>>((kestrel, settings) =>
            {
                kestrel.AddServerHeader = false;
                var limits = settings.Value.Gateway.Limits;
                kestrel.Limits.MaxRequestBodySize = limits.MaxRequestBodyBytes;
                kestrel.Limits.RequestHeadersTimeout = limits.RequestHeadersTimeout;
                kestrel.Limits.MinRequestBodyDataRate = new MinDataRate(limits.MinRequestBodyBytesPerSecond, limits.MinRequestBodyGracePeriod);
            });

        // Cross-origin calls only from the configured origins; with none, no CORS headers are ever sent.
        services.AddCors(cors => cors.AddDefaultPolicy(policy => policy
            .WithOrigins([.. builder.Configuration.GetSection("Gateway:CorsAllowedOrigins").Get<string[]>() ?? []])
            .AllowAnyHeader()
            .WithMethods("GET", "POST", "DELETE")
            .WithExposedHeaders("X-LCG-Route", "X-LCG-Decision-Id", "X-LCG-Candidate", "X-LCG-Estimated-Cost-Usd", "X-LCG-Expected-Recall", "X-LCG-Budget-Remaining-Usd", "X-LCG-Escalated", "X-LCG-Rerouted-From", "Retry-After")));

        services.ConfigureHttpJsonOptions(options => options.SerializerOptions.TypeInfoResolverChain.Insert(0, GatewayJsonContext.Relaxed));
        services.AddSingleton(TimeProvider.System);
        services.AddHttpForwarder();

        services.AddSingleton<TenantDirectory>();
        services.AddSingleton<TenantRateLimiter>();
        services.AddSingleton<UpstreamClusters>();
        services.AddSingleton<ModelCatalog>();
        services.AddSingleton<UpstreamForwarder>();
        services.AddSingleton<JsonBodyReader>();
        services.AddSingleton<ReadinessProbe>();

        services.AddSingleton<RoutingCatalog>();
        services.AddSingleton<RequestMeasurer>();
        services.AddSingleton<ChatRouter>();
        services.AddSingleton<LedgerStore>();
        services.AddSingleton<Telemetry.GatewayTelemetry>();
        var telemetry = builder.Configuration.GetSection(nameof(GatewaySettings.Telemetry)).Get<TelemetryConfig>() ?? new TelemetryConfig();
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(telemetry.ServiceName))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(Telemetry.GatewayTelemetry.Name).AddAspNetCoreInstrumentation();
                if (telemetry.PrometheusEnabled)
                {
                    metrics.AddPrometheusExporter();
                }
            })
            .WithTracing(tracing =>
            {
                tracing.AddSource(Telemetry.GatewayTelemetry.Name).AddAspNetCoreInstrumentation().AddHttpClientInstrumentation();
                if (telemetry.OtlpEndpoint is { Length: > 0 } endpoint)
                {
                    tracing.AddOtlpExporter(otlp =>
                    {
                        otlp.Endpoint = new Uri(endpoint);
                        otlp.Protocol = string.Equals(telemetry.OtlpProtocol, "HttpProtobuf", StringComparison.OrdinalIgnoreCase) ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
                    });
                }
            });
        services.AddSingleton<Dashboard.DashboardQueries>();
        services.AddSingleton<Dashboard.AdminAuthenticationFilter>();
        services.AddSingleton<UpstreamBodies>();
        services.AddSingleton<SelfRoute.SelfRoutePrompt>();
        services.AddSingleton<SelfRoute.SelfRouteKernels>();
        services.AddSingleton<SelfRoute.EscalationRates>();
        services.AddSingleton<SelfRoute.HybridExecutor>();
        services.AddSingleton<Accounting.BudgetHints>();
        services.AddSingleton<RoutedChat>();
        services.AddSingleton<MeteredEmbeddings>();
        services.AddSingleton<Corpora.CorpusServices>();
        services.AddSingleton<Corpora.CorpusContextBuilder>();
        services.AddHostedService<GatewayStartup>();
        services.AddSingleton<Backend.SelfHostedBackendService>();
        services.AddHostedService(sp => sp.GetRequiredService<Backend.SelfHostedBackendService>());
        return builder;
    }
}
