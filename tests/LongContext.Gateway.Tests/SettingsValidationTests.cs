using System.Diagnostics;
using System.Text.Json.Nodes;
using LongContext.Gateway.Hosting;
using LongContext.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LongContext.Gateway.Tests;

public sealed class SettingsValidationTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lcg-settings-").FullName;

    public static TheoryData<string, string> BrokenConfigs => new()
    {
        { "bad-hash", "Tenants:acme:ApiKeyHashes:0" },
        { "no-hashes", "Tenants:acme:ApiKeyHashes" },
        { "shared-key", "Tenants:globex:ApiKeyHashes:0" },
        { "unknown-allowed-model", "Tenants:globex:AllowedModels:1" },
        { "no-allowed-models", "Tenants:globex:AllowedModels" },
        { "unknown-upstream", "Models:gpt-test:Upstream" },
        { "missing-upstream", "Models:gpt-test:Upstream" },
        { "relative-address", "Upstreams:stub:Destinations:main:Address" },
        { "ftp-address", "Upstreams:stub:Destinations:main:Address" },
        { "no-destinations", "Upstreams:stub:Destinations" },
        { "zero-timeout", "Upstreams:stub:ActivityTimeout" },
        { "absolute-health-path", "Upstreams:stub:HealthPath" },
        { "tiny-body-limit", "Gateway:Limits:MaxRequestBodyBytes" },
        { "huge-depth", "Gateway:Limits:MaxJsonDepth" },
        { "no-tenants", "Tenants" },
    };

    [Theory]
    [MemberData(nameof(BrokenConfigs))]
    public async Task BrokenSetting_HostRefusesToStart_NamingTheKey(string breakage, string key)
    {
        var config = Break(breakage);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var app = GatewayInstance.Build(config.WriteTo(_directory));
            await app.StartAsync();
        });

        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingIncludedFile_HostRefusesToStart_NamingTheIncludeEntry()
    {
        var config = Standard();
        config.Settings["Gateway"]!["Include"]!.AsArray().Add("config/prices.json");

        var error = Assert.Throws<GatewayStartupException>(() => GatewayInstance.Build(config.WriteTo(_directory)));

        Assert.Contains("Gateway:Include:3", error.Message, StringComparison.Ordinal);
        Assert.Contains("config/prices.json", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingSettingsFile_HostRefusesToStart_SayingWhereItLooked()
    {
        var missing = Path.Combine(_directory, "nowhere", "appsettings.json");

        var error = Assert.Throws<GatewayStartupException>(() => GatewayInstance.Build(missing));

        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BrokenSetting_GatewayProcess_ExitsWithMessageNamingTheKey()
    {
        var config = Break("unknown-upstream");
        var settings = config.WriteTo(_directory);
        var gatewayDll = Path.Combine(AppContext.BaseDirectory, "LongContext.Gateway.dll");
        using var process = Process.Start(new ProcessStartInfo("dotnet", ["exec", gatewayDll, "--settings", settings, "--urls", "http://127.0.0.1:0"])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;

        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(1, process.ExitCode);
        Assert.Contains("cannot start", stderr, StringComparison.Ordinal);
        Assert.Contains("Models:gpt-test:Upstream", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EnvironmentVariable_OverridesIncludedFile()
    {
        // The documented way to give an upstream its key: the environment beats config/ files.
        var config = Standard();
        config.Upstreams["stub"]!["ApiKey"] = "from-file";
        await using var app = GatewayInstance.Build(config.WriteTo(_directory), "--Upstreams:stub:ApiKey", "from-command-line");

        var settings = app.Services.GetRequiredService<IOptions<LongContext.Gateway.Configuration.GatewaySettings>>().Value;

        Assert.Equal("from-command-line", settings.Upstreams["stub"].ApiKey);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static GatewayConfig Standard()
    {
        var config = new GatewayConfig();
        config.Upstreams["stub"] = GatewayConfig.Upstream("http://127.0.0.1:9/v1/");
        config.Models["gpt-test"] = new JsonObject { ["Upstream"] = "stub" };
        config.Tenants["acme"] = GatewayConfig.Tenant(GatewayConfig.AcmeKey, "*");
        config.Tenants["globex"] = GatewayConfig.Tenant(GatewayConfig.GlobexKey, "gpt-test");
        return config;
    }

    private static GatewayConfig Break(string breakage)
    {
        var config = Standard();
        var stub = config.Upstreams["stub"]!.AsObject();
        switch (breakage)
        {
            case "bad-hash": config.Tenants["acme"]!["ApiKeyHashes"] = new JsonArray("sk-plaintext-key"); break;
            case "no-hashes": config.Tenants["acme"]!["ApiKeyHashes"] = new JsonArray(); break;
            case "shared-key": config.Tenants["globex"]!["ApiKeyHashes"] = config.Tenants["acme"]!["ApiKeyHashes"]!.DeepClone(); break;
            case "unknown-allowed-model": config.Tenants["globex"]!["AllowedModels"] = new JsonArray("gpt-test", "gpt-9"); break;
            case "no-allowed-models": config.Tenants["globex"]!["AllowedModels"] = new JsonArray(); break;
            case "unknown-upstream": config.Models["gpt-test"]!["Upstream"] = "nowhere"; break;
            case "missing-upstream": config.Models["gpt-test"] = new JsonObject { ["UpstreamModel"] = "x" }; break;
            case "relative-address": stub["Destinations"]!["main"]!["Address"] = "localhost/v1"; break;
            case "ftp-address": stub["Destinations"]!["main"]!["Address"] = "ftp://127.0.0.1/v1"; break;
            case "no-destinations": stub.Remove("Destinations"); break;
            case "zero-timeout": stub["ActivityTimeout"] = "00:00:00"; break;
            case "absolute-health-path": stub["HealthPath"] = "/v1/models"; break;
            case "tiny-body-limit": config.Settings["Gateway"]!["Limits"]!["MaxRequestBodyBytes"] = 10; break;
            case "huge-depth": config.Settings["Gateway"]!["Limits"]!["MaxJsonDepth"] = 100000; break;
            case "no-tenants": config.Tenants.Clear(); break;
            default: throw new ArgumentOutOfRangeException(nameof(breakage), breakage, null);
        }

        return config;
    }
}
