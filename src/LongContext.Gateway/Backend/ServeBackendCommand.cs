using LongContext.Backend.Server;
using LongContext.Gateway.Hosting;

namespace LongContext.Gateway.Backend;

/// <summary>
/// <c>serve-backend [--settings PATH] [--Backend:Urls URL] …</c>: only the self-hosted backend, for
/// a GPU host of its own (deploy/backend). It reads the same settings file and environment as the
/// gateway (section <c>Backend</c>), so one image and one set of keys serve both roles.
/// </summary>
internal static class ServeBackendCommand
{
    public static async Task<int> RunAsync(string[] args, TextWriter error)
    {
        try
        {
            var settingsPath = SettingsFiles.Locate(args);
            var configuration = new ConfigurationManager();
            configuration.UseSettingsFile(settingsPath);
            configuration.AddEnvironmentVariables();
            configuration.AddEnvironmentVariables(SettingsFiles.EnvironmentPrefix);
            configuration.AddCommandLine(args);
            var settings = configuration.GetSection(SelfHostedBackendSettings.Section).Get<SelfHostedBackendSettings>() ?? new SelfHostedBackendSettings();
            using var model = BackendModel.Load(settings.Options, Path.GetDirectoryName(settingsPath)!);
            await using var app = await BackendServer.StartAsync(model, settings.Urls);
            await Console.Out.WriteLineAsync($"Self-hosted backend serving {settings.Options.ServedModelId} ({model.ParameterCount} parameters) on {string.Join(", ", app.Urls)}");
            await app.WaitForShutdownAsync();
            return 0;
        }
        catch (Exception e) when (e is GatewayStartupException or ArgumentException or IOException or InvalidDataException or InvalidOperationException)
        {
            await error.WriteLineAsync("The self-hosted backend cannot start: " + e.Message);
            return 1;
        }
    }
}
