using Microsoft.Extensions.Configuration.Json;

namespace LongContext.Gateway.Hosting;

/// <summary>
/// Finds the settings file and merges the config/ files it includes, keeping the usual
/// precedence: settings file, then its includes in order, then environment, then command line.
/// </summary>
internal static class SettingsFiles
{
    public const string SettingsKey = "settings";
    public const string EnvironmentPrefix = "LCG_";
    private const string IncludeSection = "Gateway:Include";

    /// <summary><c>--settings PATH</c>, else <c>LCG_SETTINGS</c>, else the appsettings.json beside the binary.</summary>
    public static string Locate(string[] args)
    {
        var early = new ConfigurationBuilder()
            .AddEnvironmentVariables(EnvironmentPrefix)
            .AddCommandLine(args)
            .Build();
        var path = early[SettingsKey] is { Length: > 0 } given
            ? Path.GetFullPath(given)
            : Path.Combine(AppContext.BaseDirectory, "appsettings.json");
        return File.Exists(path)
            ? path
            : throw new GatewayStartupException($"Settings file not found: {path}. Pass --settings PATH or set {EnvironmentPrefix}SETTINGS.");
    }

    public static void UseSettingsFile(this ConfigurationManager configuration, string settingsPath)
    {
        var directory = Path.GetDirectoryName(settingsPath)!;
        var sources = configuration.Sources;

        // The host's default appsettings*.json sources are replaced by the explicit file and its includes.
        var position = sources.Count;
        for (var i = sources.Count - 1; i >= 0; i--)
        {
            if (sources[i] is JsonConfigurationSource { Path: { } p } && p.StartsWith("appsettings", StringComparison.OrdinalIgnoreCase))
            {
                sources.RemoveAt(i);
                position = i;
            }
        }

        var files = new List<string> { settingsPath };
        var settingsOnly = new ConfigurationBuilder().AddJsonFile(settingsPath, optional: false).Build();
        var includes = settingsOnly.GetSection(IncludeSection).GetChildren().ToList();
        foreach (var include in includes)
        {
            var file = Path.GetFullPath(include.Value ?? "", directory);
            if (string.IsNullOrWhiteSpace(include.Value) || !File.Exists(file))
            {
                throw new GatewayStartupException($"{include.Path} names '{include.Value}', but no such file exists (looked for {file}).");
            }

            files.Add(file);
        }

        foreach (var file in files)
        {
            sources.Insert(position++, new JsonConfigurationSource { Path = file, Optional = false, ReloadOnChange = false }.WithResolvedFileProvider());
        }
    }

    private static JsonConfigurationSource WithResolvedFileProvider(this JsonConfigurationSource source)
    {
        source.ResolveFileProvider();
        return source;
    }
}
