using LongContext.Backend.Server;
using LongContext.Gateway.Hosting;

namespace LongContext.Gateway.Backend;

/// <summary>Section <c>Backend</c>: the self-hosted long-context backend, run inside the gateway's process when enabled.</summary>
internal sealed record SelfHostedBackendSettings
{
    public const string Section = "Backend";

    /// <summary>Start the backend with the gateway (the default configuration does; a deployment with separate GPU hosts does not).</summary>
    public bool Enabled { get; init; }

    /// <summary>Where the backend listens; the self-hosted upstream in config/upstreams.json points here.</summary>
    public string Urls { get; init; } = "http://127.0.0.1:8081";

    public BackendOptions Options { get; init; } = new();
}

/// <summary>
/// Runs the backend server (its own Kestrel listener, its own endpoints) beside the gateway when
/// <c>Backend:Enabled</c>, so one command serves the whole default set-up. The gateway still reaches
/// it over HTTP like any upstream: moving it to another host is a config change.
/// </summary>
internal sealed partial class SelfHostedBackendService(IConfiguration configuration, IHostEnvironment environment, ILogger<SelfHostedBackendService> logger) : IHostedService, IAsyncDisposable
{
    private WebApplication? _app;
    private BackendModel? _model;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = configuration.GetSection(SelfHostedBackendSettings.Section).Get<SelfHostedBackendSettings>() ?? new SelfHostedBackendSettings();
        if (!settings.Enabled)
        {
            return;
        }

        try
        {
            _model = BackendModel.Load(settings.Options, environment.ContentRootPath);
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException)
        {
            throw new GatewayStartupException($"Backend:Options: the self-hosted backend cannot start: {e.Message}");
        }

        _app = await BackendServer.StartAsync(_model, settings.Urls, cancellationToken);
        Serving(logger, settings.Options.ServedModelId, _model.ParameterCount, _app.Urls);
    }

    /// <summary>The address the backend bound (useful when Urls asks for port 0).</summary>
    public IReadOnlyCollection<string> Urls => _app is null ? [] : [.. _app.Urls];

    [LoggerMessage(Level = LogLevel.Information, Message = "Self-hosted backend serving {Model} ({Parameters} parameters) on {Urls}")]
    private static partial void Serving(ILogger logger, string model, long parameters, ICollection<string> urls);

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        _model?.Dispose();
    }
}
