using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using LongContext.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LongContext.Gateway.Tests;

/// <summary>CORS is off unless configured; no prompt or document text reaches the logs above Trace.</summary>
[Collection(GatewayCollectionDefinition.Name)]
public sealed class SecurityTests(GatewayFixture fixture)
{
    private static HttpRequestMessage Preflight(string origin)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, "/v1/chat/completions");
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        return request;
    }

    [Fact]
    public async Task Cors_IsOffByDefault_AndOnlyForTheConfiguredOrigins()
    {
        using (var http = fixture.Gateway.CreateHttpClient())
        using (var preflight = await http.SendAsync(Preflight("https://evil.example")))
        {
            Assert.False(preflight.Headers.Contains("Access-Control-Allow-Origin"));
        }

        var config = GatewayConfig.Standard(fixture.Stub);
        config.Settings["Gateway"]!["CorsAllowedOrigins"] = new JsonArray("https://app.example.com");
        await using var gateway = await GatewayInstance.StartAsync(config);
        using var client = gateway.CreateHttpClient();

        using var allowed = await client.SendAsync(Preflight("https://app.example.com"));
        Assert.Equal("https://app.example.com", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        using var other = await client.SendAsync(Preflight("https://evil.example"));
        Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task PromptsAndDocuments_NeverReachTheLogs_AboveTrace()
    {
        var config = GatewayConfig.Standard(fixture.Stub);
        await using var gateway = await GatewayInstance.StartAsync(config, "--Logging:LogLevel:Default", "Debug");
        var logs = new CapturingLoggerProvider();
        gateway.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
        using var http = gateway.CreateHttpClient(GatewayConfig.AcmeKey);
        const string Secret = "Zanzibar-pineapple-7731";

        using (await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent($$$"""{"model":"gpt-test","messages":[{"role":"user","content":"tell nobody {{{Secret}}}"}],"lcg":{"documents":["The vault opens with {{{Secret}}}."]}}""")))
        {
        }

        using (await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent($$"""{"model":"gpt-test","messages":[{"role":"user","content":{{Secret.Length}}}]}""")))
        {
        }

        using (await http.PostAsync("/v1/chat/completions", ChatCompletionsTests.JsonContent($$"""{"model":"{{Secret}}","messages":[{"role":"user","content":"{{Secret}}"}]}""")))
        {
        }

        Assert.NotEmpty(logs.Lines);
        Assert.DoesNotContain(logs.Lines, line => line.Contains(Secret, StringComparison.Ordinal));
    }

    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingLoggerProvider provider, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel > LogLevel.Trace;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (logLevel > LogLevel.Trace)
                {
                    provider.Lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}");
                }
            }
        }
    }
}
