using LongContext.Gateway.Api;

namespace LongContext.Gateway.Health;

/// <summary>/healthz says the process is alive; /readyz says whether it can serve (config loaded, upstreams reachable).</summary>
internal static class HealthApi
{
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => TypedResults.Json(new LivenessReport("alive"), GatewayJsonContext.Relaxed.LivenessReport));
        app.MapGet("/readyz", async (ReadinessProbe probe, CancellationToken cancellationToken) =>
        {
            var report = await probe.CheckAsync(cancellationToken);
            var status = report.Status == "ready" ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
            return TypedResults.Json(report, GatewayJsonContext.Relaxed.ReadinessReport, statusCode: status);
        });
        return app;
    }
}
